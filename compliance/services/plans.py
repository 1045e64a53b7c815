"""The virtualization security plan under change control: versions, stakeholders' sign-offs, review reminders.

A version is written once. A change is a new version (``plan_version_create``) with the stakeholders who must sign
it off; a signed version never changes, and nothing but a sign-off is ever added to it. The plan in force is the
newest version every stakeholder signed. A daily task reminds stakeholders of a version awaiting their sign-off
(once a week) and everybody concerned of the review date (once when it is near, once when it has passed).
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from compliance.models import PlanSignoff, PlanVersion
from compliance.selectors import plan_versions
from compliance.services.texts import PLAN_SECTION_MAX_LENGTH, STATEMENT_MAX_LENGTH, text_checked
from inventory.choices import PolicyKind
from portal.choices import NotificationKind, Role
from portal.models import Person, User
from portal.services.audit import audit_log
from portal.services.notifications import notification_new, notifications_notify

# Who writes a new version of the plan; stakeholders sign it whatever their role, auditors only read.
PLAN_EDIT_ROLES = frozenset({Role.COMPLIANCE_OFFICER, Role.ADMIN})
# A stakeholder who has not signed is reminded once a week, from a week after the version was written.
PLAN_SIGNOFF_REMINDER_DAYS = 7
# How long before the review date the people concerned are told it is coming.
PLAN_REVIEW_NOTICE_DAYS = 30
# A plan is reviewed at least yearly; a review date further out than this is a typing error.
PLAN_REVIEW_MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class PlanSection:
    field: str
    title: str
    help: str


# The plan's sections in the order the plan reads, with what each must say.
PLAN_SECTIONS = (
    PlanSection("deployment_controls", "Deployment controls",
                "Who may request and approve a VM, the checks before go-live (baseline, owner, purpose)."),
    PlanSection("monitoring", "Monitoring and tracking",
                "How VMs are discovered and tracked: scans, questionnaires, reconciliation, alerts."),
    PlanSection("patch_management", "Patch management",
                "Patching of guests, VMware Tools, virtual hardware and hosts."),
    PlanSection("tools", "Tools", "The tools used to manage, scan and protect the virtual estate."),
    PlanSection("disaster_recovery", "Disaster recovery", "Backups, replicas, restore tests and recovery objectives."),
    PlanSection("training", "Training", "Who is trained on virtualization security, how and how often."),
    PlanSection("vm_data", "Which data a VM may hold",
                "The data categories (ePHI, financial reporting, customer financial data) and where they may run."),
    PlanSection("vm_unauthorized", "Unauthorized VMs", "What happens to a VM running without an approval."),
    PlanSection("vm_unpatched", "Unpatched VMs", "What happens to a VM behind on patches, and when."),
    PlanSection("vm_unused", "VMs unused for 90 days", "What happens to a VM unused for 90 days."),
)
SECTION_FIELDS = tuple(section.field for section in PLAN_SECTIONS)
# The kind of governance policy (inventory) that enforces each virtualization standard.
SECTION_POLICIES = {"vm_unauthorized": PolicyKind.ROGUE, "vm_unpatched": PolicyKind.UNPATCHED,
                    "vm_unused": PolicyKind.DORMANT}


def _check_editor(user: User) -> None:
    if not user.has_role(*PLAN_EDIT_ROLES):
        raise PermissionDenied("Only compliance officers change the security plan.")


def _stakeholders_checked(stakeholders: Iterable[Person]) -> list[Person]:
    people = list(stakeholders)
    if not people:
        raise ValidationError({"stakeholders": "Name at least one stakeholder to sign the plan off."})
    without = [person.name for person in people if not person.active or person.user_id is None]
    if without:
        raise ValidationError({"stakeholders": f"A stakeholder signs in the portal: {', '.join(without)} "
                                               "has no active login."})
    return people


@transaction.atomic
def plan_version_create(
    *, user: User, sections: dict[str, str], change_summary: str, review_due_on: datetime.date,
    stakeholders: Iterable[Person], today: datetime.date | None = None,
) -> PlanVersion:
    """Write the next version of the plan and ask its stakeholders to sign it off.

    Every section is required. A version identical to the current one is refused: a change control record
    with no change would ask for sign-offs for nothing.
    """
    _check_editor(user)
    today = today or timezone.localdate()
    errors: dict[str, list[str]] = {}
    texts: dict[str, str] = {}
    for section in PLAN_SECTIONS:
        try:
            texts[section.field] = text_checked(sections.get(section.field), field=section.field, required=True,
                                                max_length=PLAN_SECTION_MAX_LENGTH)
        except ValidationError as error:
            errors.update(error.message_dict)
    try:
        summary = text_checked(change_summary, field="change_summary", required=True,
                               max_length=STATEMENT_MAX_LENGTH,
                               required_message="Say what changed and why: it is the change control record.")
    except ValidationError as error:
        errors.update(error.message_dict)
    if not today < review_due_on <= today + datetime.timedelta(days=PLAN_REVIEW_MAX_DAYS):
        errors["review_due_on"] = [f"A date after today and within {PLAN_REVIEW_MAX_DAYS // 366} years."]
    try:
        people = _stakeholders_checked(stakeholders)
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    current = PlanVersion.objects.select_for_update().order_by("-number").first()
    if current is not None and all(getattr(current, field) == texts[field] for field in SECTION_FIELDS):
        raise ValidationError("No section changed: a new version needs a change to the plan.")
    version = PlanVersion.objects.create(
        number=(current.number + 1) if current else 1, **texts, change_summary=summary,
        review_due_on=review_due_on, created_by=user, created_at=timezone.now(),
    )
    version.stakeholders.set(people)
    changed = [field for field in SECTION_FIELDS if current is None or getattr(current, field) != texts[field]]
    audit_log(
        action="compliance.plan_version_created", actor=user, obj=version,
        details={"number": version.number, "sections_changed": changed, "change_summary": summary,
                 "review_due_on": review_due_on, "stakeholders": [person.email for person in people]},
    )
    notifications_notify(_signoff_requests(version, people, key="new"))
    return version


def _signoff_requests(version: PlanVersion, people: Iterable[Person], *, key: str):
    link = reverse("compliance:plan_signoff", args=[version.number])
    for person in people:
        yield notification_new(
            person_id=person.pk, kind=NotificationKind.PLAN_SIGNOFF, about=version, link=link,
            subject=f"Sign off the security plan v{version.number}",
            body=f"Version {version.number} of the virtualization security plan awaits your sign-off.\n\n"
                 f"What changed: {version.change_summary}",
            dedupe_key=f"plan-signoff:{version.pk}:{person.pk}:{key}",
        )


@transaction.atomic
def plan_signoff(*, version: PlanVersion, user: User) -> PlanSignoff:
    """The user's person signs ``version`` off: only a named stakeholder, once, and only the newest version
    (an older one is no longer what the plan says)."""
    version = PlanVersion.objects.select_for_update().get(pk=version.pk)
    person = Person.objects.filter(user=user).first()
    if user.has_role(Role.AUDITOR) or person is None or not version.stakeholders.filter(pk=person.pk).exists():
        raise PermissionDenied("Only the stakeholders named on this version sign it off.")
    if PlanVersion.objects.filter(number__gt=version.number).exists():
        raise ValidationError(f"Version {version.number} has been replaced: sign off the newest version.")
    if version.signoffs.filter(person=person).exists():
        raise ValidationError(f"You signed version {version.number} off already.")
    signoff = PlanSignoff.objects.create(version=version, person=person, signed_by=user, signed_at=timezone.now())
    remaining = version.stakeholders.exclude(plan_signoffs__version=version).count()
    audit_log(
        action="compliance.plan_signed", actor=user, obj=version,
        details={"number": version.number, "person": person.email, "remaining": remaining},
    )
    return signoff


def plan_reminders_run(*, today: datetime.date | None = None) -> dict[str, int]:
    """Daily: remind the current version's stakeholders who have not signed (once per ISO week), and tell its
    stakeholders and author when the review is near (once) and when it is overdue (once). Every notification has
    a key of its version, person and occasion, so a second run the same day writes nothing. Returns how many
    of each were offered (a repeat is skipped by its key)."""
    today = today or timezone.localdate()
    version = plan_versions().first()
    if version is None:
        return {"signoff": 0, "review": 0}
    signed = {signoff.person_id for signoff in version.signoffs.all()}
    unsigned = [person for person in version.stakeholders.all() if person.pk not in signed]
    signoff = 0
    if unsigned and (today - timezone.localdate(version.created_at)).days >= PLAN_SIGNOFF_REMINDER_DAYS:
        year, week, _ = today.isocalendar()
        signoff = notifications_notify(_signoff_requests(version, unsigned, key=f"week-{year}-{week}"))
    review = 0
    days_left = (version.review_due_on - today).days
    if days_left <= PLAN_REVIEW_NOTICE_DAYS:
        occasion = "overdue" if days_left < 0 else "near"
        people = {person.pk: person for person in version.stakeholders.all()}
        author = Person.objects.filter(user_id=version.created_by_id).first()
        if author is not None:
            people[author.pk] = author
        when = (f"was due on {version.review_due_on:%d %B %Y}" if days_left < 0
                else f"is due on {version.review_due_on:%d %B %Y}")
        review = notifications_notify(
            notification_new(
                person_id=person_id, kind=NotificationKind.PLAN_REVIEW, about=version,
                link=reverse("compliance:plan"), subject=f"Security plan review {occasion}: v{version.number}",
                body=f"The review of the virtualization security plan (version {version.number}) {when}. "
                     "Review it and record a new version, which its stakeholders sign off.",
                dedupe_key=f"plan-review:{version.pk}:{version.review_due_on}:{occasion}:{person_id}",
            )
            for person_id in people
        )
    return {"signoff": signoff, "review": review}
