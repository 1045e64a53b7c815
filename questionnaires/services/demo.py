"""The questionnaires' part of the demo: the standard template, a live campaign in every state, and one closed.

After the portal's demo organisation (and, when it has run, the inventory's), ``demo_load``:

- loads the standard "VM discovery" template (a new version only when the file changed);
- once, gives every person of the Infrastructure division a login (the name of their e-mail address, the demo
  password, the manager role), has the officer map a few vCenter clusters to managers of it, and runs a
  campaign over the division, "VM discovery 2026 — Infrastructure", owned by the demo ``officer``, cascading,
  launched, due in three weeks, with every assignment state in it: parts not started, in progress (some
  answers, a few VMs typed, VMs pre-filled from inventory being checked), submitted, returned with a comment,
  and accepted. The ``manager`` login (a Director of Infrastructure) has a part of their own in progress, one
  part below to review, one returned and one in progress;
- and a closed "VM discovery 2025 — Infrastructure pilot" over one director's branch, dated months back.

Everything goes through the services, acting as the people who would act (answers and VM lists as a system
job, ``user=None``, which those services allow). The demo's notifications are in each person's portal inbox;
their e-mails go to Django's dummy backend, since the demo's addresses do not exist and the console backend
would print a hundred of them. The only writes outside the services date the pilot months back: no service
launches a campaign in the past. Safe to run again: once the live campaign exists nothing more is done.
"""

import datetime
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import F
from django.test.utils import override_settings
from django.utils import timezone

from inventory.choices import PowerState
from inventory.models import AreaMapping
from inventory.services.area_mappings import area_mapping_create
from portal.choices import Role
from portal.models import Notification, Person, User
from portal.services.demo import DEMO_PASSWORD
from portal.services.roles import user_grant_role
from questionnaires.choices import AssignmentStatus, Disposition, QuestionKind, ReconciliationTrigger
from questionnaires.models import Answer, Assignment, Campaign, DeclaredVM, Question, TemplateVersion
from questionnaires.services.answers import answer_save
from questionnaires.services.assignments import assignment_answer_for, assignment_review, assignment_submit
from questionnaires.services.campaigns import campaign_close, campaign_create, campaign_launch
from questionnaires.services.declared_vms import (
    declared_vm_disposition_set,
    declared_vms_prefill,
    declared_vms_save,
)
from questionnaires.services.reconciliation import reconciliation_counts_line, reconciliation_run
from questionnaires.services.templates import DATA_DIR, template_load
from questionnaires.vm_rows.parse import VMRow, vm_rows_parse

TEMPLATE_FILE = DATA_DIR / "vm_discovery.json"
LIVE_CAMPAIGN = "VM discovery 2026 — Infrastructure"
PILOT_CAMPAIGN = "VM discovery 2025 — Infrastructure pilot"
VP_TITLE = "Vice President, Infrastructure"
OWNER_USERNAME = "officer"
MANAGER_USERNAME = "manager"
LIVE_DUE_IN_DAYS = 21
# The pilot ran about nine months ago: launched, due a month later, closed two weeks after that.
PILOT_LAUNCHED_DAYS_AGO = 270
PILOT_DUE_DAYS_AGO = 240
PILOT_CLOSED_DAYS_AGO = 226
# The demo organisation's Infrastructure division: a VP, 4 directors, 3 managers each, 2 engineers each.
DIRECTORS, MANAGERS_PER_DIRECTOR, ENGINEERS_PER_MANAGER = 4, 3, 2
# Clusters of the demo inventory (inventory/services/demo.py) kept by a manager; pre-filled into their list.
# Keys name the managers in _Division: (director slot, manager index).
CLUSTER_MAPPINGS = {
    "east-dc1-cl1": ("manager", 2),
    "west-dc1-cl1": ("busy", 0),
    "east-dc2-cl1": ("quiet", 0),
}
# VMs that scanners cannot see, typed by people of the division: (name stem, platform, software, where, purpose).
TYPED_VMS = [
    ("build-agent", "Proxmox", "Proxmox VE 8.1", "Lab rack B, building 2", "development"),
    ("win11-test", "VMware Workstation", "VMware Workstation 17 Pro", "Engineer's laptop", "test"),
    ("fax-gateway", "Hyper-V", "Windows Server 2019 Hyper-V", "Branch office server room", "departmental"),
    ("ml-sandbox", "AWS", "EC2 t3.large", "AWS eu-west-1", "research"),
    ("jumphost", "ESXi", "VMware ESXi 7.0 U3", "DC1, management cluster", "production"),
]
RETURN_COMMENT = (
    "The build agents on the lab Proxmox host are missing from your list, and the patching answer says automated "
    "while the lab hosts are patched by hand. Please add them and correct the answer."
)


@dataclass
class _Division:
    """The Infrastructure division, by the part each person plays in the demo."""

    vp: Person
    directors: dict[str, Person]  # "manager" (the demo login), "quiet", "busy", "done"
    managers: dict[int, list[Person]]  # by director id, in name order
    engineers: dict[int, list[Person]]  # by manager id, in name order

    @classmethod
    def load(cls) -> "_Division":
        vp = Person.objects.filter(title=VP_TITLE, active=True).order_by("id").first()
        if vp is None:
            raise RuntimeError(f"No active “{VP_TITLE}”: run the portal's demo first (manage.py load_demo).")
        reports = _reports(vp)
        own = [person for person in reports if person.user and person.user.username == MANAGER_USERNAME]
        others = [person for person in reports if person not in own]
        if len(own) != 1 or len(reports) != DIRECTORS:
            raise RuntimeError(f"{vp.name} should have {DIRECTORS} directors, one of them the “manager” login.")
        directors = {"manager": own[0], "quiet": others[0], "busy": others[1], "done": others[2]}
        managers = {director.pk: _reports(director) for director in reports}
        engineers = {manager.pk: _reports(manager) for people in managers.values() for manager in people}
        if any(len(people) != MANAGERS_PER_DIRECTOR for people in managers.values()) or any(
            len(people) != ENGINEERS_PER_MANAGER for people in engineers.values()
        ):
            raise RuntimeError(f"{vp.name}'s division is not the demo organisation's shape.")
        return cls(vp, directors, managers, engineers)

    def manager(self, slot: str, index: int) -> Person:
        return self.managers[self.directors[slot].pk][index]

    def everyone(self) -> list[Person]:
        people = [self.vp, *self.directors.values()]
        for managers in self.managers.values():
            for manager in managers:
                people += [manager, *self.engineers[manager.pk]]
        return people


def _reports(person: Person) -> list[Person]:
    return list(Person.objects.filter(parent=person, active=True).select_related("user").order_by("name", "id"))


def _logins_create(people: list[Person]) -> int:
    """A manager login for each person without one (username: their e-mail's name); returns how many."""
    password = make_password(DEMO_PASSWORD)  # hashed once: the hasher is slow on purpose, and it is one password
    created = 0
    for person in people:
        if person.user_id is not None:
            continue
        first_name, _, last_name = person.name.partition(" ")
        user = User.objects.create(
            username=person.email.split("@")[0], email=person.email, first_name=first_name, last_name=last_name,
            password=password,
        )
        user_grant_role(user=user, role=Role.MANAGER)
        person.user = user
        person.save(update_fields=["user"])
        created += 1
    return created


class _Campaign:
    """Acts on one campaign's assignments as the people of the chain would."""

    def __init__(self, campaign: Campaign):
        self.campaign = campaign
        self.questions = {
            question.key: question
            for question in Question.objects.filter(section__version_id=campaign.version_id).select_related("section")
        }
        self.vm_list = next(q for q in self.questions.values() if q.kind == QuestionKind.VM_LIST)
        self.parts = {
            part.person_id: part
            for part in Assignment.objects.filter(campaign=campaign).select_related(
                "campaign", "person__user", "parent__person__user"
            )
        }

    def part(self, person: Person) -> Assignment:
        return self.parts[person.pk]

    def answer(self, person: Person, **values: Any) -> None:
        for key, value in values.items():
            answer_save(assignment=self.part(person), question=self.questions[key], raw=value, user=None)

    def type_vms(self, person: Person, count: int) -> None:
        """VMs the scanners cannot see, typed into the person's list."""
        initials = "".join(word[0] for word in person.name.split()).lower()
        grid = []
        for number in range(1, count + 1):
            stem, platform, software, where, purpose = TYPED_VMS[(number + person.pk) % len(TYPED_VMS)]
            grid.append({
                "name": f"{stem}-{initials}{number:02d}", "address": f"10.{40 + person.pk % 50}.{number}.{10 + number}",
                "platform": platform, "software": software, "location": where,
                "created_on": f"2025-{1 + (person.pk + number) % 12:02d}-{1 + number:02d}",
                "created_by": person.name, "purpose": purpose, "status": "running" if number % 4 else "stopped",
                "owner": person.name, "data_categories": ["ephi"] if purpose == "production" else ["none"],
            })
        declared_vms_save(
            assignment=self.part(person), question=self.vm_list, rows=_rows(grid), user=None, replace=False
        )

    def declare(self, person: Person, rows: list[dict[str, Any]]) -> None:
        """Rows typed into the person's list, as the page would save them."""
        declared_vms_save(
            assignment=self.part(person), question=self.vm_list, rows=_rows(rows), user=None, replace=False
        )

    def prefill(self, person: Person, *, confirm: int = 0, correct: int = 0, disown: int = 0) -> int:
        """Pre-fill the person's list from inventory; check the first rows as the person would."""
        part = self.part(person)
        added = declared_vms_prefill(assignment=part, question=self.vm_list)
        pending = list(part.declared_vms.filter(disposition=Disposition.PENDING).order_by("row"))
        for declared in pending[:confirm]:
            declared_vm_disposition_set(declared_vm=declared, disposition=Disposition.CONFIRMED, user=person.user)
        for declared in pending[confirm : confirm + disown]:
            declared_vm_disposition_set(declared_vm=declared, disposition=Disposition.DISOWNED, user=person.user)
        corrected = pending[confirm + disown : confirm + disown + correct]
        if corrected:
            grid = [{"id": vm.pk, **_cells(vm), "owner": person.name, "purpose": "production"} for vm in corrected]
            rows = _rows(grid)
            declared_vms_save(assignment=part, question=self.vm_list, rows=rows, user=person.user, replace=False)
        return added

    def answer_fully(self, person: Person, *, vms: int = 2) -> None:
        """Every question a person who runs VMs is asked, and a few VMs."""
        self.answer(
            person,
            runs_vms="yes",
            vm_platforms=["vmware-esxi", "kvm"],
            desktop_vms="no",
            vm_count=str(vms),
            data_handled=["ephi", "financial_reporting"],
            creation_process="Requested by a ticket in the service desk; built by the platform team from the "
            "hardened template.",
            approval_required="yes",
            approver="The change advisory board",
            approval_recorded="yes",
            patching_method="automated",
            patch_frequency="month",
            maintenance_process="Monthly maintenance window; snapshots older than 7 days are removed.",
            decommission_process="Powered off for 30 days, then deleted after the owner confirms; the ticket is "
            "closed with the date.",
            process_documented="yes",
            process_document="Infrastructure wiki: VM lifecycle",
            last_review=(timezone.localdate() - datetime.timedelta(days=200)).isoformat(),
        )
        self.type_vms(person, vms)

    def submit(self, person: Person) -> None:
        assignment_submit(assignment=self.part(person), user=person.user)

    def review(self, person: Person, *, accept: bool, comment: str = "") -> None:
        part = self.part(person)
        assignment_review(assignment=part, user=part.parent.person.user, accept=accept, comment=comment)

    def answer_for(self, person: Person, reason: str, **values: Any) -> None:
        """The manager above gives the part's answers themselves, then marks it answered for the person."""
        part = self.part(person)
        manager = part.parent.person.user
        for key, value in values.items():
            answer_save(assignment=part, question=self.questions[key], raw=value, user=manager)
        assignment_answer_for(assignment=part, user=manager, reason=reason)

    def no_vms_accepted(self, person: Person) -> None:
        """An engineer who runs no VMs of their own answers so, submits, and their manager accepts."""
        self.answer(person, runs_vms="no", comments="All my VMs are in my manager's list.")
        self.submit(person)
        self.review(person, accept=True)

    def branch_accepted(self, manager: Person, engineers: list[Person]) -> None:
        """A manager's whole branch answered and accepted by the manager, then the manager's part submitted."""
        for engineer in engineers:
            self.no_vms_accepted(engineer)
        self.answer_fully(manager)
        self.submit(manager)


def _rows(grid: list[dict[str, Any]]) -> list[VMRow]:
    """The grid's rows, read as the VM list page reads them; the demo's own rows have no bad cell."""
    parsed = vm_rows_parse(grid=grid)
    if parsed.problems:
        raise RuntimeError(f"demo VM rows are wrong: {'; '.join(parsed.problem_texts())}")
    return parsed.rows


def _cells(declared: DeclaredVM) -> dict[str, Any]:
    return {
        "name": declared.name, "address": declared.address, "platform": declared.platform,
        "software": declared.software, "location": declared.location,
        "created_on": declared.created_on.isoformat() if declared.created_on else "",
        "created_by": declared.created_by, "status": declared.status, "data_categories": declared.data_categories,
    }


def _mappings_create(division: _Division, owner: User) -> None:
    """The clusters the officer maps to managers of the division (those mapped already are left as they are)."""
    for pattern, (slot, index) in CLUSTER_MAPPINGS.items():
        if not AreaMapping.objects.filter(scope=AreaMapping.Scope.CLUSTER, pattern__iexact=pattern).exists():
            area_mapping_create(
                person=division.manager(slot, index), scope=AreaMapping.Scope.CLUSTER, pattern=pattern, user=owner
            )


def _live_campaign(division: _Division, version: TemplateVersion, owner: User) -> tuple[Campaign, int]:
    """The live campaign over the division; returns it and how many VMs were pre-filled from inventory."""
    campaign = campaign_create(
        name=LIVE_CAMPAIGN, version=version, scope=division.vp, owner=owner,
        due_date=timezone.localdate() + datetime.timedelta(days=LIVE_DUE_IN_DAYS),
    )
    campaign_launch(campaign=campaign, user=owner)
    act = _Campaign(campaign)
    directors, manager_of, engineers_of = division.directors, division.manager, division.engineers
    prefilled = 0

    # The "manager" login: own part in progress; below, one part submitted (to review), one returned, one busy.
    act.answer(directors["manager"], runs_vms="yes", vm_platforms=["vmware-esxi", "vmware-workstation"],
               desktop_vms="yes", vm_count="14")
    act.type_vms(directors["manager"], 3)
    submitted, returned, busy = (manager_of("manager", index) for index in range(3))
    first, second = engineers_of[submitted.pk]
    act.no_vms_accepted(first)
    act.answer_for(second, "On parental leave until June; the two lab VMs they run are in my list.",
                   runs_vms="no", comments="Their two lab VMs are declared in my list.")
    act.answer_fully(submitted, vms=3)
    act.submit(submitted)
    act.branch_accepted(returned, engineers_of[returned.pk])
    act.review(returned, accept=False, comment=RETURN_COMMENT)
    prefilled += act.prefill(busy, confirm=3, correct=1, disown=1)
    act.answer(busy, runs_vms="yes", vm_platforms=["vmware-esxi"], desktop_vms="no")
    busy_engineer, _ = engineers_of[busy.pk]
    act.answer(busy_engineer, runs_vms="yes", vm_platforms=["virtualbox"], desktop_vms="yes")
    act.type_vms(busy_engineer, 2)

    # A director whose branch is under way: pre-filled lists being checked, one part waiting for review.
    act.answer(directors["busy"], runs_vms="yes")
    checking, idle, waiting = (manager_of("busy", index) for index in range(3))
    prefilled += act.prefill(checking, confirm=2)
    act.answer(checking, runs_vms="yes", vm_platforms=["vmware-esxi"])
    act.answer(engineers_of[checking.pk][0], runs_vms="no")
    act.branch_accepted(waiting, engineers_of[waiting.pk])

    # A director whose whole branch is accepted, and who submitted to the VP.
    for manager in division.managers[directors["done"].pk]:
        act.branch_accepted(manager, engineers_of[manager.pk])
        act.review(manager, accept=True, comment="Thanks, complete.")
    act.answer_fully(directors["done"])
    act.submit(directors["done"])

    # A director who has not started; one of their managers has, with inventory's VMs to check.
    quiet_manager = manager_of("quiet", 0)
    prefilled += act.prefill(quiet_manager)
    act.answer(quiet_manager, runs_vms="yes", vm_platforms=["vmware-esxi", "hyperv"])

    act.answer(division.vp, runs_vms="yes", vm_platforms=["vmware-esxi", "hyperv", "cloud"], desktop_vms="no",
               data_handled=["ephi", "financial_reporting", "customer_financial"])

    # For reconciliation: a VM the checking manager confirmed is also typed in by the quiet director's manager (a
    # conflict), and one the busy manager confirmed is said to be decommissioned while it runs (a mismatch).
    confirmed = DeclaredVM.objects.filter(assignment=act.part(checking), disposition=Disposition.CONFIRMED)
    shared = confirmed.select_related("inventory_vm").order_by("row").first()
    if shared is not None:  # without the inventory's demo nothing is pre-filled, so nothing is shared
        act.declare(quiet_manager, [{"name": shared.inventory_vm.name, "purpose": "test", "owner": quiet_manager.name}])
    running = (
        DeclaredVM.objects.filter(assignment=act.part(busy), disposition=Disposition.CONFIRMED,
                                  inventory_vm__power_state=PowerState.ON)
        .order_by("row").first()
    )
    if running is not None:
        act.declare(busy, [{"id": running.pk, **_cells(running), "status": "decommissioned",
                            "notes": "Replaced by the new cluster in March."}])
    return campaign, prefilled


def _pilot_campaign(division: _Division, version: TemplateVersion, owner: User) -> Campaign:
    """Last year's pilot over one director's branch: mostly accepted, closed, dated months back."""
    director = division.directors["done"]
    campaign = campaign_create(
        name=PILOT_CAMPAIGN, version=version, scope=director, owner=owner,
        due_date=timezone.localdate() + datetime.timedelta(days=LIVE_DUE_IN_DAYS),
        reminder_every_days=0,
    )
    campaign_launch(campaign=campaign, user=owner)
    act = _Campaign(campaign)
    *finished, late = division.managers[director.pk]
    for manager in finished:
        act.branch_accepted(manager, division.engineers[manager.pk])
        act.review(manager, accept=True)
    act.no_vms_accepted(division.engineers[late.pk][0])
    act.answer(late, runs_vms="yes")
    act.answer(director, runs_vms="yes")
    campaign_close(campaign=campaign, user=owner)

    now = timezone.now()
    shift = datetime.timedelta(days=PILOT_LAUNCHED_DAYS_AGO)
    Campaign.objects.filter(pk=campaign.pk).update(
        created_at=now - shift,
        launched_at=now - shift,
        due_date=timezone.localdate() - datetime.timedelta(days=PILOT_DUE_DAYS_AGO),
        closed_at=now - datetime.timedelta(days=PILOT_CLOSED_DAYS_AGO),
    )
    parts = Assignment.objects.filter(campaign=campaign)
    parts.update(created_at=F("created_at") - shift)
    for name in ("started_at", "submitted_at", "reviewed_at"):
        parts.filter(**{f"{name}__isnull": False}).update(**{name: F(name) - shift})
    Answer.objects.filter(assignment__campaign=campaign).update(updated_at=F("updated_at") - shift)
    Notification.objects.filter(assignment__campaign=campaign).update(
        created_at=F("created_at") - shift, read_at=F("created_at") - shift
    )
    return campaign


def _counts(campaign: Campaign) -> str:
    counts = Counter(Assignment.objects.filter(campaign=campaign).values_list("status", flat=True))
    return ", ".join(
        f"{counts[status]} {status.label.lower()}" for status in AssignmentStatus if counts[status]
    )


def demo_load() -> list[str]:
    """The questionnaires' part of ``manage.py load_demo``; returns the lines to print."""
    version = template_load(path=TEMPLATE_FILE)
    lines = [f"Questionnaires: template “{version.template}” v{version.number}"
             + (" loaded." if version.created else " already loaded.")]
    if Campaign.objects.filter(name=LIVE_CAMPAIGN).exists():
        return [*lines, "Questionnaires: demo campaigns already loaded."]
    owner = User.objects.filter(username=OWNER_USERNAME).first()
    if owner is None:
        raise RuntimeError(f"No “{OWNER_USERNAME}” login: run the portal's demo first (manage.py load_demo).")
    # The e-mails of the notifications go nowhere; the transaction commits (and queues them) inside this block.
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"), transaction.atomic():
        division = _Division.load()
        logins = _logins_create(division.everyone())
        _mappings_create(division, owner)
        live, prefilled = _live_campaign(division, version, owner)
        pilot = _pilot_campaign(division, version, owner)
    # Reconciling evaluates the policies again (undeclared, decommissioned but running): their e-mails go nowhere.
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
        reconciled = reconciliation_run(campaign=live, trigger=ReconciliationTrigger.COMMAND)
    declared = DeclaredVM.objects.filter(assignment__campaign=live).count()
    manager = division.directors["manager"]
    return [
        *lines,
        f"Campaign “{live}”: {live.assignments.count()} assignments over {division.vp.name}'s division, due "
        f"{live.due_date:%d %b %Y}: {_counts(live)}; {declared} declared VMs ({prefilled} pre-filled from "
        f"inventory through {len(CLUSTER_MAPPINGS)} cluster mappings).",
        f"Campaign “{pilot}”: closed, {pilot.assignments.count()} assignments: {_counts(pilot)}.",
        f"Reconciliation of “{live}”: {reconciliation_counts_line(reconciled.counts)}.",
        f"  {logins} logins for the division's people: the name of their e-mail address (e.g. "
        f"{division.vp.user.username}, the VP), same password; {MANAGER_USERNAME} is {manager.name}, a "
        "director with a part to review, one returned and one in progress below.",
    ]
