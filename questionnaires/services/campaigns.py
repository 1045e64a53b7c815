"""Campaigns and the assignments that travel down the chain of command: every write of the workflow.

A campaign sends a template version to the head of a subtree (its scope). Each
assignee answers for their own area, delegates parts to direct reports, and
reviews what comes back before submitting upwards; the root assignment is
reviewed by the campaign's owner. Every service here is atomic, writes one
audit event in its own transaction, and notifies the people concerned (rows
first, e-mail by a Celery task once the transaction commits).

Views, the API and commands call these functions and show the
``ValidationError`` (the request is wrong for the current state) or
``PermissionDenied`` (this user may not do it) messages as they are.
"""

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from portal.choices import Role
from portal.models import Person, User
from portal.selectors import person_for_user, person_subtree
from portal.services.audit import audit_log
from questionnaires.choices import OPEN_STATUSES, AssignmentStatus, CampaignStatus, NotificationKind
from questionnaires.models import (
    REVIEW_TEXT_MAX_LENGTH,
    Assignment,
    Campaign,
    Notification,
    Section,
    TemplateVersion,
)
from questionnaires.services.notifications import (
    assignment_link,
    notifications_create,
    notifications_send_on_commit,
)

# Assignments per INSERT at launch: 5,000 people in a few statements per level of the org chart.
ASSIGNMENT_WRITE_BATCH_SIZE = 1000
# Ids per UPDATE ... WHERE id IN (...): well inside SQLite's limit on bound parameters.
ID_BATCH_SIZE = 1000
# The longest reminder cadence and escalation delay a campaign may have.
MAX_CADENCE_DAYS = 365

# validate(assignment=...) -> the problems that stop a submission; the default is answers.assignment_answers_validate.
AnswersValidator = Callable[..., Iterable[object]]


# --- who may do what --------------------------------------------------------------------------------------------


def _is_user(user: User | None) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


def campaign_may_manage(*, campaign: Campaign, user: User | None) -> bool:
    """Launch, close, re-open and reassign: the campaign's owner, or an admin."""
    return _is_user(user) and (campaign.owner_id == user.pk or user.has_role(Role.ADMIN))


def assignment_is_assignee(*, assignment: Assignment, user: User | None) -> bool:
    """Answer, delegate and submit: the assignee's own login only."""
    return _is_user(user) and assignment.person.user_id == user.pk


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
    return _is_user(user) and reviewer is not None and reviewer.pk == user.pk


def assignment_may_answer_for(*, assignment: Assignment, user: User | None) -> bool:
    """Mark a delegated part "answered for them": the assignee of the part it was delegated from."""
    return _is_user(user) and assignment.parent_id is not None and assignment.parent.person.user_id == user.pk


def assignment_may_reassign(*, assignment: Assignment, user: User | None) -> bool:
    return campaign_may_manage(campaign=assignment.campaign, user=user) or assignment_may_answer_for(
        assignment=assignment, user=user
    )


# --- helpers ----------------------------------------------------------------------------------------------------


def _date(value: datetime.date) -> str:
    return f"{value:%d %b %Y}"


def _name(user: User) -> str:
    """How a message names the user who acted: their name in the org chart, else their login's name."""
    person = person_for_user(user=user)
    return person.name if person else str(user)


def _lock_campaign(campaign: Campaign) -> None:
    """Reload the campaign under a row lock, so two requests never change its state at once."""
    campaign.refresh_from_db(from_queryset=Campaign.objects.select_for_update())


def _lock_assignment(assignment: Assignment) -> None:
    """Reload the assignment under a row lock, and its campaign as it is now (not as the caller cached it)."""
    assignment.refresh_from_db(from_queryset=Assignment.objects.select_for_update())
    assignment.campaign = Campaign.objects.select_related("owner").get(pk=assignment.campaign_id)


def _require_active(campaign: Campaign) -> None:
    if campaign.status == CampaignStatus.DRAFT:
        raise ValidationError(f"The campaign “{campaign}” has not been launched yet.")
    if campaign.status == CampaignStatus.CLOSED:
        raise ValidationError(f"The campaign “{campaign}” is closed: its answers are frozen.")


def _require_manager(campaign: Campaign, user: User | None, what: str) -> None:
    if not campaign_may_manage(campaign=campaign, user=user):
        raise PermissionDenied(f"Only the campaign's owner ({campaign.owner}) or an admin can {what} it.")


def _require_due_date_ahead(due_date: datetime.date, what: str) -> None:
    today = timezone.localdate()
    if due_date <= today:
        raise ValidationError(
            {"due_date": f"The due date {_date(due_date)} is not in the future (today is {_date(today)}); {what}."}
        )


def _notification(
    *, person_id: int, assignment_id: int, kind: str, subject: str, body: str, key: str
) -> Notification:
    return Notification(
        person_id=person_id,
        assignment_id=assignment_id,
        kind=kind,
        subject=subject[:300],
        body=body,
        link=assignment_link(assignment_id),
        dedupe_key=key[:200],
    )


def _notify(rows: list[Notification]) -> int:
    """Store the messages (each once, by its dedupe key) and send their e-mails once the transaction commits."""
    count = notifications_create(rows)
    notifications_send_on_commit()
    return count


def _batched(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), ID_BATCH_SIZE):
        yield ids[start : start + ID_BATCH_SIZE]


def _subtree_ids(campaign_id: int, root_id: int) -> list[int]:
    """Ids of an assignment and everything delegated below it, from one query of the campaign's tree."""
    children: dict[int | None, list[int]] = defaultdict(list)
    for assignment_id, parent_id in Assignment.objects.filter(campaign_id=campaign_id).values_list("id", "parent_id"):
        children[parent_id].append(assignment_id)
    found, stack = [], [root_id]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children[current])
    return found


# --- campaigns --------------------------------------------------------------------------------------------------


@transaction.atomic
def campaign_create(
    *,
    name: str,
    version: TemplateVersion,
    scope: Person,
    owner: User,
    due_date: datetime.date,
    reminder_every_days: int = 7,
    escalate_after_days: int = 3,
    cascade: bool = True,
) -> Campaign:
    """A draft campaign owned by a compliance officer (or an admin); nothing is sent until it is launched."""
    if not (_is_user(owner) and owner.has_role(Role.COMPLIANCE_OFFICER, Role.ADMIN)):
        raise PermissionDenied("Only a compliance officer or an admin can create a campaign.")
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "A campaign needs a name."
    today = timezone.localdate()
    if due_date <= today:
        errors["due_date"] = f"The due date {_date(due_date)} is not in the future (today is {_date(today)})."
    if not scope.active:
        errors["scope"] = f"{scope.name} is no longer active; choose an active person as the head of the scope."
    if not 0 <= reminder_every_days <= MAX_CADENCE_DAYS:
        errors["reminder_every_days"] = f"Between 0 (no reminders) and {MAX_CADENCE_DAYS} days."
    if not 1 <= escalate_after_days <= MAX_CADENCE_DAYS:
        errors["escalate_after_days"] = f"Between 1 and {MAX_CADENCE_DAYS} days."
    if not Section.objects.filter(version=version).exists():
        errors["version"] = f"{version} has no sections: there is nothing to answer."
    if errors:
        raise ValidationError(errors)
    campaign = Campaign.objects.create(
        name=name,
        version=version,
        scope=scope,
        owner=owner,
        due_date=due_date,
        reminder_every_days=reminder_every_days,
        escalate_after_days=escalate_after_days,
        cascade=cascade,
    )
    audit_log(
        action="campaign.created",
        actor=owner,
        obj=campaign,
        details={
            "version": str(version),
            "scope": scope.email,
            "due_date": due_date,
            "cascade": cascade,
            "reminder_every_days": reminder_every_days,
            "escalate_after_days": escalate_after_days,
        },
    )
    return campaign


def _launch_levels(scope: Person, cascade: bool) -> list[list[tuple[int, int | None]]]:
    """(person id, id of the person whose assignment is their parent) for each assignee, level by level.

    One recursive query loads the scope's subtree. An inactive person gets no assignment; their active
    reports hang under the nearest active manager above them.
    """
    if not cascade:
        return [[(scope.pk, None)]]
    rows = person_subtree(person=scope).values_list("id", "parent_id", "active")
    reports: dict[int, list[int]] = defaultdict(list)
    active: dict[int, bool] = {}
    for person_id, parent_id, is_active in rows:
        active[person_id] = is_active
        if person_id != scope.pk:
            reports[parent_id].append(person_id)
    levels: list[list[tuple[int, int | None]]] = []
    # (person, nearest active manager at or above their own manager)
    frontier: list[tuple[int, int | None]] = [(scope.pk, None)]
    while frontier:
        level = [(person_id, manager_id) for person_id, manager_id in frontier if active[person_id]]
        if level:
            levels.append(level)
        frontier = [
            (report, person_id if active[person_id] else manager_id)
            for person_id, manager_id in frontier
            for report in reports[person_id]
        ]
    return levels


@transaction.atomic
def campaign_launch(*, campaign: Campaign, user: User) -> int:
    """Draft → active: create the assignments in bulk and notify each assignee; returns how many were created.

    A cascading campaign assigns every active person of the scope's subtree, each under their manager's
    assignment; otherwise only the head of the scope is assigned and delegates as they choose. Queries are
    bounded by the depth of the org chart, not by its size.
    """
    _lock_campaign(campaign)
    _require_manager(campaign, user, "launch")
    if campaign.status != CampaignStatus.DRAFT:
        raise ValidationError(f"The campaign “{campaign}” is {campaign.get_status_display().lower()}; "
                              "only a draft can be launched.")
    _require_due_date_ahead(campaign.due_date, "change it before launching")
    scope = Person.objects.get(pk=campaign.scope_id)
    if not scope.active:
        raise ValidationError({"scope": f"{scope.name}, the head of the scope, is no longer active."})

    assignment_of: dict[int, int] = {}
    created: list[Assignment] = []
    for level in _launch_levels(scope, campaign.cascade):
        batch = [
            Assignment(campaign=campaign, person_id=person_id, parent_id=assignment_of.get(manager_id))
            for person_id, manager_id in level
        ]
        # bulk_create returns primary keys on PostgreSQL and SQLite 3.35+: the next level needs them.
        Assignment.objects.bulk_create(batch, batch_size=ASSIGNMENT_WRITE_BATCH_SIZE)
        assignment_of.update((assignment.person_id, assignment.pk) for assignment in batch)
        created.extend(batch)

    campaign.status = CampaignStatus.ACTIVE
    campaign.launched_at = timezone.now()
    campaign.save(update_fields=["status", "launched_at"])
    audit_log(
        action="campaign.launched",
        actor=user,
        obj=campaign,
        details={"assignments": len(created), "cascade": campaign.cascade, "scope": scope.email},
    )
    subject = f"{campaign.name}: your questionnaire is due {_date(campaign.due_date)}"
    body = (
        f"You are asked to answer “{campaign.name}” for your area by {_date(campaign.due_date)}.\n"
        "Answer for what you run yourself; you can hand parts of it to your direct reports and review "
        "what they send back before you submit."
    )
    _notify(
        _notification(
            person_id=assignment.person_id,
            assignment_id=assignment.pk,
            kind=NotificationKind.ASSIGNED,
            subject=subject,
            body=body,
            key=f"assigned:{assignment.pk}",
        )
        for assignment in created
    )
    return len(created)


def _notify_open_assignees(campaign: Campaign, *, kind: str, subject: str, body: str, key: str) -> int:
    rows = Assignment.objects.filter(campaign=campaign, status__in=OPEN_STATUSES).values_list("id", "person_id")
    count = _notify(
        _notification(
            person_id=person_id,
            assignment_id=assignment_id,
            kind=kind,
            subject=subject,
            body=body,
            key=f"{key}:{assignment_id}",
        )
        for assignment_id, person_id in rows
    )
    return count


@transaction.atomic
def campaign_close(*, campaign: Campaign, user: User) -> Campaign:
    """Active → closed: answers freeze; assignees who had not finished are told."""
    _lock_campaign(campaign)
    _require_manager(campaign, user, "close")
    if campaign.status != CampaignStatus.ACTIVE:
        raise ValidationError(f"The campaign “{campaign}” is {campaign.get_status_display().lower()}; "
                              "only an active campaign can be closed.")
    campaign.status = CampaignStatus.CLOSED
    campaign.closed_at = timezone.now()
    campaign.save(update_fields=["status", "closed_at"])
    counts = dict(
        Assignment.objects.filter(campaign=campaign).values_list("status").annotate(n=Count("id")).order_by()
    )
    event = audit_log(action="campaign.closed", actor=user, obj=campaign, details={"statuses": counts})
    _notify_open_assignees(
        campaign,
        kind=NotificationKind.CLOSED,
        subject=f"{campaign.name} is closed",
        body=f"The campaign “{campaign.name}” was closed by {_name(user)}; answers can no longer be changed.",
        key=f"closed:{event.pk}",
    )
    return campaign


@transaction.atomic
def campaign_reopen(*, campaign: Campaign, user: User, due_date: datetime.date | None = None) -> Campaign:
    """Closed → active, optionally with a new due date (required when the old one has passed)."""
    _lock_campaign(campaign)
    _require_manager(campaign, user, "re-open")
    if campaign.status != CampaignStatus.CLOSED:
        raise ValidationError(f"The campaign “{campaign}” is {campaign.get_status_display().lower()}; "
                              "only a closed campaign can be re-opened.")
    previous_due_date = campaign.due_date
    _require_due_date_ahead(due_date or campaign.due_date, "give a new due date to re-open it")
    campaign.status = CampaignStatus.ACTIVE
    campaign.closed_at = None
    campaign.due_date = due_date or campaign.due_date
    campaign.save(update_fields=["status", "closed_at", "due_date"])
    event = audit_log(
        action="campaign.reopened",
        actor=user,
        obj=campaign,
        details={"due_date": campaign.due_date, "previous_due_date": previous_due_date},
    )
    _notify_open_assignees(
        campaign,
        kind=NotificationKind.REOPENED,
        subject=f"{campaign.name} is open again, due {_date(campaign.due_date)}",
        body=f"The campaign “{campaign.name}” was re-opened by {_name(user)}; please finish your part by "
        f"{_date(campaign.due_date)}.",
        key=f"reopened:{event.pk}",
    )
    return campaign


# --- assignments ------------------------------------------------------------------------------------------------


@transaction.atomic
def assignment_delegate(
    *, assignment: Assignment, to_person: Person, sections: Iterable[Section] | None = None, user: User
) -> Assignment:
    """Hand the assignment (all of it, or named sections) to one of the assignee's direct reports.

    Refused when the person is not a direct report, already has a part of this campaign, or the
    sections are not part of what was asked of the assignee.
    """
    _lock_assignment(assignment)
    campaign = assignment.campaign
    if not assignment_is_assignee(assignment=assignment, user=user):
        raise PermissionDenied(f"Only {assignment.person.name} can delegate their own assignment.")
    _require_active(campaign)
    if assignment.status not in OPEN_STATUSES:
        raise ValidationError(
            f"{assignment.person.name}'s assignment is {assignment.get_status_display().lower()}; "
            "nothing more can be delegated from it."
        )
    if to_person.parent_id != assignment.person_id:
        raise ValidationError(
            {"to_person": f"{to_person.name} is not a direct report of {assignment.person.name}; "
                          "a part can be delegated only to a direct report."}
        )
    if not to_person.active:
        raise ValidationError({"to_person": f"{to_person.name} is no longer active."})
    existing = Assignment.objects.filter(campaign=campaign, person=to_person).first()
    if existing is not None:
        raise ValidationError({"to_person": f"{to_person.name} already has a part of “{campaign}”."})

    allowed = list(assignment.sections.all()) or list(Section.objects.filter(version_id=campaign.version_id))
    allowed_ids = {section.pk for section in allowed}
    chosen = list(sections or [])
    outside = [section for section in chosen if section.pk not in allowed_ids]
    if outside:
        raise ValidationError(
            {"sections": "Not part of what was asked of you: " + ", ".join(str(section) for section in outside)}
        )
    if not chosen and assignment.sections.exists():
        chosen = allowed  # "all" of a partial assignment is all of the part the assignee was given

    try:
        with transaction.atomic():
            child = Assignment.objects.create(campaign=campaign, person=to_person, parent=assignment)
    except IntegrityError:  # delegated at the same moment by another request
        raise ValidationError({"to_person": f"{to_person.name} already has a part of “{campaign}”."}) from None
    if chosen:
        child.sections.set(chosen)
    if assignment.status == AssignmentStatus.NOT_STARTED:
        assignment.status = AssignmentStatus.IN_PROGRESS
        assignment.started_at = timezone.now()
        assignment.save(update_fields=["status", "started_at"])

    section_titles = [section.title for section in chosen]
    audit_log(
        action="assignment.delegated",
        actor=user,
        obj=child,
        details={"from": assignment.person.email, "to": to_person.email, "sections": section_titles or "all"},
    )
    what = "the sections " + ", ".join(f"“{title}”" for title in section_titles) if chosen else "their questionnaire"
    _notify(
        [
            _notification(
                person_id=to_person.pk,
                assignment_id=child.pk,
                kind=NotificationKind.DELEGATED,
                subject=f"{campaign.name}: {assignment.person.name} asks you to answer, due {_date(campaign.due_date)}",
                body=f"{assignment.person.name} delegated {what} of “{campaign.name}” to you. "
                f"Answer for your area by {_date(campaign.due_date)}; {assignment.person.name} reviews it.",
                key=f"delegated:{child.pk}",
            )
        ]
    )
    return child


def _default_validator() -> AnswersValidator:
    # Imported when used: the answers service is the other half of the questionnaire and imports this module.
    from questionnaires.services.answers import assignment_answers_validate

    return assignment_answers_validate


@transaction.atomic
def assignment_submit(
    *, assignment: Assignment, user: User, validate: AnswersValidator | None = None
) -> Assignment:
    """Send the assignee's answers up for review: to their manager's assignee, or for the root to the owner.

    Refused, with every reason at once, while answers are missing or wrong (``validate``, by default
    ``answers.assignment_answers_validate``) or a delegated part below is not accepted or answered for.
    """
    _lock_assignment(assignment)
    campaign = assignment.campaign
    if not assignment_is_assignee(assignment=assignment, user=user):
        raise PermissionDenied(f"Only {assignment.person.name} can submit their own assignment.")
    _require_active(campaign)
    if assignment.status not in OPEN_STATUSES:
        raise ValidationError(
            f"{assignment.person.name}'s assignment is already {assignment.get_status_display().lower()}."
        )
    validate = validate or _default_validator()
    problems = [str(problem) for problem in validate(assignment=assignment) or ()]
    for child in assignment.children.exclude(status=AssignmentStatus.ACCEPTED).select_related("person"):
        problems.append(
            f"{child.person.name}'s part is {child.get_status_display().lower()}: accept it, or answer it "
            "for them, before you submit."
        )
    if problems:
        raise ValidationError(problems)

    assignment.status = AssignmentStatus.SUBMITTED
    assignment.submitted_at = timezone.now()
    assignment.started_at = assignment.started_at or assignment.submitted_at
    assignment.save(update_fields=["status", "submitted_at", "started_at"])
    reviewer = assignment_reviewer_person(assignment=assignment)
    event = audit_log(
        action="assignment.submitted",
        actor=user,
        obj=assignment,
        details={"reviewer": reviewer.email if reviewer else str(campaign.owner)},
    )
    if reviewer is not None:  # a campaign owner with no person record follows the campaign page instead
        _notify(
            [
                _notification(
                    person_id=reviewer.pk,
                    assignment_id=assignment.pk,
                    kind=NotificationKind.SUBMITTED,
                    subject=f"{campaign.name}: {assignment.person.name} submitted their answers for your review",
                    body=f"{assignment.person.name} submitted their part of “{campaign.name}”. "
                    "Accept it, or return it with a comment saying what to fix.",
                    key=f"submitted:{assignment.pk}:{event.pk}",
                )
            ]
        )
    return assignment


def _refuse_overlong(*, field: str, text: str) -> None:
    """Review texts are copied into the audit trail, a notification and its e-mail: keep them to a few paragraphs."""
    if len(text) > REVIEW_TEXT_MAX_LENGTH:
        raise ValidationError({field: f"At most {REVIEW_TEXT_MAX_LENGTH:,} characters (this one has {len(text):,})."})


@transaction.atomic
def assignment_review(*, assignment: Assignment, user: User, accept: bool, comment: str = "") -> Assignment:
    """Accept a submitted assignment, or return it to its assignee with a comment (required) saying why."""
    _lock_assignment(assignment)
    campaign = assignment.campaign
    if not assignment_may_review(assignment=assignment, user=user):
        reviewer = assignment_reviewer(assignment=assignment)
        raise PermissionDenied(
            f"Only {reviewer or 'the assignee of the part above'} can review {assignment.person.name}'s answers."
        )
    _require_active(campaign)
    if assignment.status != AssignmentStatus.SUBMITTED:
        raise ValidationError(
            f"{assignment.person.name}'s assignment is {assignment.get_status_display().lower()}, "
            "not submitted: there is nothing to review."
        )
    comment = (comment or "").strip()
    _refuse_overlong(field="comment", text=comment)
    if not accept and not comment:
        raise ValidationError(
            {"comment": f"Say why you return it: the comment is what {assignment.person.name} will read."}
        )
    assignment.status = AssignmentStatus.ACCEPTED if accept else AssignmentStatus.RETURNED
    assignment.reviewed_at = timezone.now()
    assignment.reviewed_by = user
    assignment.review_comment = comment
    assignment.save(update_fields=["status", "reviewed_at", "reviewed_by", "review_comment"])
    verb = "accepted" if accept else "returned"
    actor = _name(user)
    event = audit_log(action=f"assignment.{verb}", actor=user, obj=assignment, details={"comment": comment})
    if accept:
        subject = f"{campaign.name}: {actor} accepted your answers"
        body = f"{actor} accepted your part of “{campaign.name}”." + (f"\n\nTheir note: {comment}" if comment else "")
    else:
        subject = f"{campaign.name}: {actor} returned your answers"
        body = (
            f"{actor} returned your part of “{campaign.name}” with this comment:\n\n{comment}\n\n"
            f"Correct it and submit again by {_date(campaign.due_date)}."
        )
    _notify(
        [
            _notification(
                person_id=assignment.person_id,
                assignment_id=assignment.pk,
                kind=NotificationKind.ACCEPTED if accept else NotificationKind.RETURNED,
                subject=subject,
                body=body,
                key=f"{verb}:{assignment.pk}:{event.pk}",
            )
        ]
    )
    return assignment


@transaction.atomic
def assignment_answer_for(*, assignment: Assignment, user: User, reason: str) -> Assignment:
    """The manager who delegated a part answers it themselves: the part (and any part delegated further
    below it that is not accepted yet) becomes accepted, with the reason kept on each."""
    _lock_assignment(assignment)
    campaign = assignment.campaign
    if assignment.parent_id is None:
        raise ValidationError(
            f"{assignment.person.name} heads the campaign's scope: there is no manager's part to answer it from."
        )
    if not assignment_may_answer_for(assignment=assignment, user=user):
        raise PermissionDenied(
            f"Only {assignment.parent.person.name}, who delegated it, can answer {assignment.person.name}'s part."
        )
    _require_active(campaign)
    if assignment.status == AssignmentStatus.ACCEPTED:
        raise ValidationError(f"{assignment.person.name}'s part is already accepted.")
    reason = (reason or "").strip()
    _refuse_overlong(field="reason", text=reason)
    if not reason:
        raise ValidationError({"reason": "Give the reason you answer this part yourself; it goes in the audit trail."})

    now = timezone.now()
    below = [pk for pk in _subtree_ids(campaign.pk, assignment.pk) if pk != assignment.pk]
    covered = 0
    for ids in _batched(below):
        covered += (
            Assignment.objects.filter(id__in=ids)
            .exclude(status=AssignmentStatus.ACCEPTED)
            .update(
                status=AssignmentStatus.ACCEPTED,
                answered_by_manager_reason=reason,
                reviewed_by=user,
                reviewed_at=now,
            )
        )
    assignment.status = AssignmentStatus.ACCEPTED
    assignment.answered_by_manager_reason = reason
    assignment.reviewed_by = user
    assignment.reviewed_at = now
    assignment.save(update_fields=["status", "answered_by_manager_reason", "reviewed_by", "reviewed_at"])
    event = audit_log(
        action="assignment.answered_for",
        actor=user,
        obj=assignment,
        details={"reason": reason, "parts_below_covered": covered},
    )
    actor = _name(user)
    _notify(
        [
            _notification(
                person_id=assignment.person_id,
                assignment_id=assignment.pk,
                kind=NotificationKind.ACCEPTED,
                subject=f"{campaign.name}: {actor} answered your part for you",
                body=f"{actor} answered your part of “{campaign.name}” themselves, for this reason:\n\n{reason}\n\n"
                "You have nothing more to do for it.",
                key=f"answered_for:{assignment.pk}:{event.pk}",
            )
        ]
    )
    return assignment


@transaction.atomic
def assignment_reassign(*, assignment: Assignment, to_person: Person, user: User) -> Assignment:
    """Give an assignment, with its answers, declared VMs and the parts delegated below it, to another person.

    For when the assignee leaves or moves mid-campaign. The campaign's owner (or an admin) may give it to
    anyone active; the assignee of the part above may give it to somebody in their own subtree.
    """
    _lock_assignment(assignment)
    campaign = assignment.campaign
    is_manager = campaign_may_manage(campaign=campaign, user=user)
    if not (is_manager or assignment_may_answer_for(assignment=assignment, user=user)):
        above = f" or {assignment.parent.person.name}" if assignment.parent_id else ""
        raise PermissionDenied(
            f"Only the campaign's owner ({campaign.owner}){above} can reassign {assignment.person.name}'s part."
        )
    _require_active(campaign)
    if to_person.pk == assignment.person_id:
        raise ValidationError({"to_person": f"{to_person.name} already holds this assignment."})
    if not to_person.active:
        raise ValidationError({"to_person": f"{to_person.name} is no longer active."})
    if not is_manager:
        manager = assignment.parent.person
        if not person_subtree(person=manager, include_self=False).filter(pk=to_person.pk).exists():
            raise ValidationError(
                {"to_person": f"{to_person.name} is not in {manager.name}'s part of the organisation."}
            )
    if Assignment.objects.filter(campaign=campaign, person=to_person).exists():
        raise ValidationError(
            {"to_person": f"{to_person.name} already has a part of “{campaign}”; answer it there or reassign "
                          "theirs first."}
        )
    previous = assignment.person
    assignment.person = to_person
    try:
        with transaction.atomic():
            assignment.save(update_fields=["person"])
    except IntegrityError:  # given to the same person at the same moment by another request
        raise ValidationError({"to_person": f"{to_person.name} already has a part of “{campaign}”."}) from None
    event = audit_log(
        action="assignment.reassigned",
        actor=user,
        obj=assignment,
        details={
            "from": previous.email,
            "to": to_person.email,
            "status": assignment.status,
            "answers": assignment.answers.count(),
            "declared_vms": assignment.declared_vms.count(),
        },
    )
    _notify(
        [
            _notification(
                person_id=to_person.pk,
                assignment_id=assignment.pk,
                kind=NotificationKind.ASSIGNED,
                subject=f"{campaign.name}: {previous.name}'s part is now yours, due {_date(campaign.due_date)}",
                body=f"{_name(user)} gave you {previous.name}'s part of “{campaign.name}”, with the answers given "
                f"so far. Check them and finish it by {_date(campaign.due_date)}.",
                key=f"reassigned:{assignment.pk}:{event.pk}",
            )
        ]
    )
    return assignment


def campaign_export_record(*, campaign: Campaign, user: User, export: str) -> None:
    """Answers leaving the portal are an auditable act: who downloaded which export of which campaign."""
    audit_log(action="campaign.exported", actor=user, obj=campaign, details={"export": export})
