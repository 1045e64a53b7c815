"""Who may do what in a campaign: one place for the rules the services enforce and the pages show."""

from portal.choices import ALL_ROLES, Role
from portal.models import Person, User
from questionnaires.choices import OPEN_STATUSES, CampaignStatus
from questionnaires.models import Assignment, Campaign

# Everybody in the chain of command may be asked, whatever their role: each page checks the object itself
# (an assignee, their managers up the chain, and the oversight roles read; the assignee answers).
QUESTIONNAIRE_ROLES = ALL_ROLES
# Auditors read everything and change nothing.
ANSWER_ROLES = ALL_ROLES - {Role.AUDITOR}
# Creating and running campaigns: the services also check the campaign's owner.
CAMPAIGN_ROLES = frozenset({Role.COMPLIANCE_OFFICER, Role.ADMIN})


def is_logged_in(user: User | None) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


def campaign_may_manage(*, campaign: Campaign, user: User | None) -> bool:
    """Launch, close, re-open and reassign: the campaign's owner, or an admin."""
    return is_logged_in(user) and (campaign.owner_id == user.pk or user.has_role(Role.ADMIN))


def assignment_is_assignee(*, assignment: Assignment, user: User | None) -> bool:
    """Answer, delegate and submit: the assignee's own login only."""
    return is_logged_in(user) and assignment.person.user_id == user.pk


def assignment_reviewer(*, assignment: Assignment) -> User | None:
    """Who reviews a submitted assignment: its parent's assignee; for the root, the campaign's owner."""
    if assignment.parent_id is None:
        return assignment.campaign.owner
    return assignment.parent.person.user


def assignment_reviewer_person(*, assignment: Assignment) -> Person | None:
    """The person told of a submission (the owner's person for the root; None if the owner has none)."""
    if assignment.parent_id is None:
        return Person.objects.filter(user_id=assignment.campaign.owner_id).first()
    return assignment.parent.person


def assignment_may_review(*, assignment: Assignment, user: User | None) -> bool:
    reviewer = assignment_reviewer(assignment=assignment)
    return is_logged_in(user) and reviewer is not None and reviewer.pk == user.pk


def assignment_may_answer_for(*, assignment: Assignment, user: User | None) -> bool:
    """Mark a delegated part "answered for them": the assignee of the part it was delegated from."""
    return is_logged_in(user) and assignment.parent_id is not None and assignment.parent.person.user_id == user.pk


def assignment_may_reassign(*, assignment: Assignment, user: User | None) -> bool:
    return campaign_may_manage(campaign=assignment.campaign, user=user) or assignment_may_answer_for(
        assignment=assignment, user=user
    )


def assignment_may_edit(*, assignment: Assignment, user: User | None) -> bool:
    """Who may change a part's answers: its assignee, and the manager it was delegated from (who may answer it for
    them, and must then give the answers themselves)."""
    return assignment_is_assignee(assignment=assignment, user=user) or assignment_may_answer_for(
        assignment=assignment, user=user
    )


def assignment_is_editable(*, assignment: Assignment, user: User | None) -> bool:
    """Answers and VM lists change only by the assignee or the manager above (``assignment_may_edit``), while the
    campaign is active and the part is open."""
    return (
        assignment_may_edit(assignment=assignment, user=user)
        and assignment.campaign.status == CampaignStatus.ACTIVE
        and assignment.status in OPEN_STATUSES
    )
