"""Assignments down the chain of command: delegate to a report, submit for review, accept or return, answer a
part for a report, reassign. Each is atomic, audited, and tells the people concerned."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.choices import NotificationKind
from portal.db import chunked
from portal.models import Person, User
from portal.selectors import person_subtree
from portal.services.audit import AuditEntry, audit_log, audit_log_many
from portal.services.notifications import notifications_notify
from questionnaires.choices import OPEN_STATUSES, AssignmentStatus, ReconciliationTrigger
from questionnaires.models import REVIEW_TEXT_MAX_LENGTH, Assignment, Section
from questionnaires.permissions import (
    assignment_is_assignee,
    assignment_may_answer_for,
    assignment_may_review,
    assignment_reviewer,
    assignment_reviewer_person,
    campaign_may_manage,
)
from questionnaires.selectors import assignment_parts_below
from questionnaires.services.answers import assignment_answers_validate
from questionnaires.services.reconciliation import reconciliation_queue
from questionnaires.services.workflow import (
    assignment_link,
    assignment_lock,
    assignment_notification,
    campaign_require_active,
    date_text,
    user_name,
)


@transaction.atomic
def assignment_delegate(
    *, assignment: Assignment, to_person: Person, sections: Iterable[Section] | None = None, user: User
) -> Assignment:
    """Hand the assignment (all of it, or named sections) to one of the assignee's direct reports.

    Refused when the person is not a direct report, already has a part of this campaign, or the
    sections are not part of what was asked of the assignee.
    """
    assignment_lock(assignment)
    campaign = assignment.campaign
    if not assignment_is_assignee(assignment=assignment, user=user):
        raise PermissionDenied(f"Only {assignment.person.name} can delegate their own assignment.")
    campaign_require_active(campaign)
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
    notifications_notify(
        [
            assignment_notification(
                person_id=to_person.pk,
                assignment_id=child.pk,
                kind=NotificationKind.DELEGATED,
                subject=f"{campaign.name}: {assignment.person.name} asks you to answer, "
                f"due {date_text(campaign.due_date)}",
                body=f"{assignment.person.name} delegated {what} of “{campaign.name}” to you. "
                f"Answer for your area by {date_text(campaign.due_date)}; {assignment.person.name} reviews it.",
                key=f"delegated:{child.pk}",
            )
        ]
    )
    return child


@dataclass(frozen=True)
class SubmitBlocker:
    """One thing that stops a submission, as a page lists it: a link (to the question, or to the part below) with
    its label, and what to do there. ``text`` is the whole sentence, as the API and messages say it."""

    label: str
    link: str
    todo: str
    text: str


# What the assignee does about a part below that is not accepted yet, by its status.
PART_BLOCKER_TODO = {
    AssignmentStatus.NOT_STARTED: "not started: wait for them to answer and submit it, or answer it for them",
    AssignmentStatus.IN_PROGRESS: "in progress: wait for them to submit it, or answer it for them",
    AssignmentStatus.RETURNED: "returned to them for corrections: wait for them to submit it again, or answer it "
    "for them",
    AssignmentStatus.SUBMITTED: "submitted: accept it, or return it with a comment saying what to fix",
}


def assignment_submit_blockers(*, assignment: Assignment) -> list[SubmitBlocker]:
    """Everything that stops ``assignment`` being submitted, in the order to fix it: its own answers
    (``assignment_answers_validate``), then each part delegated below it that is not accepted yet."""
    blockers = [
        SubmitBlocker(label=problem.question.text, link=f"#q-{problem.question.pk}", todo=problem.todo,
                      text=str(problem))
        for problem in assignment_answers_validate(assignment=assignment)
    ]
    for child in assignment.children.exclude(status=AssignmentStatus.ACCEPTED).select_related("person").order_by(
        "person__name"
    ):
        todo = PART_BLOCKER_TODO[child.status]
        blockers.append(SubmitBlocker(
            label=f"{child.person.name}'s part", link=assignment_link(child.pk), todo=todo,
            text=f"{child.person.name}'s part is {todo}, before you submit.",
        ))
    return blockers


@transaction.atomic
def assignment_submit(*, assignment: Assignment, user: User) -> Assignment:
    """Send the assignee's answers up for review: to their manager's assignee, or for the root to the owner.

    Refused, with every reason at once (``assignment_submit_blockers``), while answers are missing or wrong or a
    delegated part below is not accepted or answered for.
    """
    assignment_lock(assignment)
    campaign = assignment.campaign
    if not assignment_is_assignee(assignment=assignment, user=user):
        raise PermissionDenied(f"Only {assignment.person.name} can submit their own assignment.")
    campaign_require_active(campaign)
    if assignment.status not in OPEN_STATUSES:
        raise ValidationError(
            f"{assignment.person.name}'s assignment is already {assignment.get_status_display().lower()}."
        )
    problems = [blocker.text for blocker in assignment_submit_blockers(assignment=assignment)]
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
        notifications_notify(
            [
                assignment_notification(
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
    assignment_lock(assignment)
    campaign = assignment.campaign
    if not assignment_may_review(assignment=assignment, user=user):
        reviewer = assignment_reviewer(assignment=assignment)
        raise PermissionDenied(
            f"Only {reviewer or 'the assignee of the part above'} can review {assignment.person.name}'s answers."
        )
    campaign_require_active(campaign)
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
    actor = user_name(user)
    event = audit_log(action=f"assignment.{verb}", actor=user, obj=assignment, details={"comment": comment})
    if accept:  # accepted declarations are what reconciliation writes back to the inventory
        reconciliation_queue(campaign=campaign, trigger=ReconciliationTrigger.SUBMISSION)
    if accept:
        subject = f"{campaign.name}: {actor} accepted your answers"
        body = f"{actor} accepted your part of “{campaign.name}”." + (f"\n\nTheir note: {comment}" if comment else "")
    else:
        subject = f"{campaign.name}: {actor} returned your answers"
        body = (
            f"{actor} returned your part of “{campaign.name}” with this comment:\n\n{comment}\n\n"
            f"Correct it and submit again by {date_text(campaign.due_date)}."
        )
    notifications_notify(
        [
            assignment_notification(
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
    """The manager who delegated a part answers it themselves: they fill in the part's answers (its form is open
    to them, ``assignment_may_edit``), which must pass the checks a submission passes, then give a reason.

    The part becomes accepted, and so does every part delegated further below it that is not accepted yet: the
    manager's answers cover those areas too. Each covered part gets its own audit event and keeps the reason.
    """
    assignment_lock(assignment)
    campaign = assignment.campaign
    if assignment.parent_id is None:
        raise ValidationError(
            f"{assignment.person.name} heads the campaign's scope: there is no manager's part to answer it from."
        )
    if not assignment_may_answer_for(assignment=assignment, user=user):
        raise PermissionDenied(
            f"Only {assignment.parent.person.name}, who delegated it, can answer {assignment.person.name}'s part."
        )
    campaign_require_active(campaign)
    if assignment.status == AssignmentStatus.ACCEPTED:
        raise ValidationError(f"{assignment.person.name}'s part is already accepted.")
    if assignment.status == AssignmentStatus.SUBMITTED:
        raise ValidationError(
            f"{assignment.person.name} has submitted their part: review it (accept or return it) instead."
        )
    reason = (reason or "").strip()
    _refuse_overlong(field="reason", text=reason)
    problems: dict[str, list[str]] = {}
    if not reason:
        problems["reason"] = ["Give the reason you answer this part yourself; it goes in the audit trail."]
    missing = [str(problem) for problem in assignment_answers_validate(assignment=assignment)]
    if missing:
        problems["answers"] = missing
    if problems:
        raise ValidationError(problems)

    now = timezone.now()
    below = assignment_parts_below(assignment=assignment)
    for ids in chunked([part.pk for part in below]):
        Assignment.objects.filter(id__in=ids).update(
            status=AssignmentStatus.ACCEPTED, answered_by_manager_reason=reason, reviewed_by=user, reviewed_at=now
        )
    assignment.status = AssignmentStatus.ACCEPTED
    assignment.answered_by_manager_reason = reason
    assignment.reviewed_by = user
    assignment.reviewed_at = now
    assignment.save(update_fields=["status", "answered_by_manager_reason", "reviewed_by", "reviewed_at"])
    reconciliation_queue(campaign=campaign, trigger=ReconciliationTrigger.SUBMISSION)
    event = audit_log(
        action="assignment.answered_for",
        actor=user,
        obj=assignment,
        details={"reason": reason, "parts_below_covered": [part.person.email for part in below]},
    )
    audit_log_many(
        actor=user,
        entries=[
            AuditEntry(
                "assignment.answered_for",
                part,
                {"reason": reason, "covered_by": assignment.person.email, "status_before": part.status},
            )
            for part in below
        ],
    )
    actor = user_name(user)
    notifications_notify(
        [
            assignment_notification(
                person_id=assignment.person_id,
                assignment_id=assignment.pk,
                kind=NotificationKind.ACCEPTED,
                subject=f"{campaign.name}: {actor} answered your part for you",
                body=f"{actor} answered your part of “{campaign.name}” themselves, for this reason:\n\n{reason}\n\n"
                "You have nothing more to do for it.",
                key=f"answered_for:{assignment.pk}:{event.pk}",
            )
        ]
        + [
            assignment_notification(
                person_id=part.person_id,
                assignment_id=part.pk,
                kind=NotificationKind.ACCEPTED,
                subject=f"{campaign.name}: {actor} answered your part for you",
                body=f"{actor} answered {assignment.person.name}'s part of “{campaign.name}”, which covers yours, "
                f"for this reason:\n\n{reason}\n\nYou have nothing more to do for it.",
                key=f"answered_for:{part.pk}:{event.pk}",
            )
            for part in below
        ]
    )
    return assignment


@transaction.atomic
def assignment_reassign(*, assignment: Assignment, to_person: Person, user: User) -> Assignment:
    """Give an assignment, with its answers, declared VMs and the parts delegated below it, to another person.

    For when the assignee leaves or moves mid-campaign. The campaign's owner (or an admin) may give it to
    anyone active; the assignee of the part above may give it to somebody in their own subtree.
    """
    assignment_lock(assignment)
    campaign = assignment.campaign
    is_manager = campaign_may_manage(campaign=campaign, user=user)
    if not (is_manager or assignment_may_answer_for(assignment=assignment, user=user)):
        above = f" or {assignment.parent.person.name}" if assignment.parent_id else ""
        raise PermissionDenied(
            f"Only the campaign's owner ({campaign.owner}){above} can reassign {assignment.person.name}'s part."
        )
    campaign_require_active(campaign)
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
    notifications_notify(
        [
            assignment_notification(
                person_id=to_person.pk,
                assignment_id=assignment.pk,
                kind=NotificationKind.ASSIGNED,
                subject=f"{campaign.name}: {previous.name}'s part is now yours, due {date_text(campaign.due_date)}",
                body=f"{user_name(user)} gave you {previous.name}'s part of “{campaign.name}”, with the answers given "
                f"so far. Check them and finish it by {date_text(campaign.due_date)}.",
                key=f"reassigned:{assignment.pk}:{event.pk}",
            )
        ]
    )
    return assignment
