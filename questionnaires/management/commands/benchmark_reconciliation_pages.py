"""Benchmark of the reconciliation pages at the issue's scale: a reconciled 5,000-person campaign, rolled back."""

import datetime
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inventory.choices import SourceKind
from inventory.models import Source, VirtualMachine
from portal.choices import Role
from portal.management.commands.benchmark_people_import import BENCHMARK_DOMAIN, LEVELS, write_org_csv
from portal.models import Person, User
from portal.services.people import people_import
from questionnaires.choices import Disposition, QuestionKind, ReconciliationTrigger
from questionnaires.models import (
    Assignment,
    Campaign,
    DeclaredVM,
    Question,
    QuestionnaireTemplate,
    ReconciliationItem,
    Section,
    TemplateVersion,
)
from questionnaires.services.campaigns import campaign_create, campaign_launch
from questionnaires.services.reconciliation import reconciliation_counts_line, reconciliation_run

# The target for the root's reconciliation page of a 5,000-person campaign.
PAGE_TARGET_SECONDS = 0.300
# Each page is timed this many times; the slowest is reported and judged.
REPEATS = 5
# The level of the org chart whose first manager is the "mid-level manager" (0 is the root).
MID_LEVEL = 3
# Rows per INSERT while building the estate.
BATCH = 2000


def _verdict(seconds: float, target: float) -> str:
    return "PASS" if seconds < target else "FAIL"


class Command(BaseCommand):
    help = (
        "Time the reconciliation pages on a generated organisation: a cascading campaign over every person, each "
        "declaring --declared VMs (half of them seen by the inventory, half not) and owning --undeclared VMs "
        "nobody declared, reconciled; then the campaign's reconciliation page for an officer (the root's view) and "
        "a mid-level manager, the follow-ups page and the item API, with their queries, against the issue's "
        f"target ({PAGE_TARGET_SECONDS * 1000:g} ms for the root's page). Everything runs in one transaction that "
        "is rolled back at the end: nothing is kept and nothing is e-mailed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=5_000, help="People in the organisation (default 5,000).")
        parser.add_argument("--declared", type=int, default=2, help="VMs each person declares (default 2).")
        parser.add_argument("--undeclared", type=int, default=1, help="VMs each person owns undeclared (default 1).")

    def handle(self, *args, count: int, declared: int, undeclared: int, **options):
        if count < 10:
            raise CommandError("--count must be at least 10")
        self.stdout.write(
            f"Reconciliation pages benchmark on {connection.vendor}: {count} people over {LEVELS} levels, "
            f"{declared} declared and {undeclared} undeclared VM(s) each; rolled back at the end, nothing is kept."
        )
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "people.csv"
            write_org_csv(path, count)
            with transaction.atomic():
                self._run(path, count, declared, undeclared)
                transaction.set_rollback(True)

    def _run(self, path: Path, count: int, declared: int, undeclared: int) -> None:
        tag = uuid.uuid4().hex[:8]
        start = time.perf_counter()
        with path.open(encoding="utf-8", newline="") as stream:
            people_import(stream=stream, source_name=path.name)
        root = Person.objects.get(email=f"person0@{BENCHMARK_DOMAIN}")
        officer = self._user(f"benchmark-officer-{tag}", Role.COMPLIANCE_OFFICER)
        version = self._template(tag)
        campaign = campaign_create(
            name=f"Benchmark reconciliation {tag}", version=version, scope=root, owner=officer,
            due_date=timezone.localdate() + datetime.timedelta(days=14), reminder_every_days=7,
            escalate_after_days=3, cascade=True,
        )
        campaign_launch(campaign=campaign, user=officer)
        self._estate(campaign, version, tag, declared, undeclared)
        self.stdout.write(f"setup: people, campaign and estate in {time.perf_counter() - start:.1f} s")

        start = time.perf_counter()
        run = reconciliation_run(campaign=campaign, trigger=ReconciliationTrigger.COMMAND)
        self.stdout.write(
            f"reconciliation: {time.perf_counter() - start:.2f} s  {reconciliation_counts_line(run.counts)}"
        )

        mid = (
            Person.objects.with_tree_fields()
            .filter(email__endswith=f"@{BENCHMARK_DOMAIN}", tree_depth=MID_LEVEL)
            .order_by("id")
            .first()
        )
        mid.user = self._user(f"benchmark-manager-{tag}", Role.MANAGER)
        mid.save(update_fields=["user"])
        asked = ReconciliationItem.objects.filter(campaign=campaign, routed_to=mid).count()
        page = reverse("questionnaires:reconciliation", kwargs={"pk": campaign.pk})
        self._time("reconciliation page, officer (the root's view)", officer, page, PAGE_TARGET_SECONDS)
        self._time(f"reconciliation page, mid-level manager (level {MID_LEVEL}, {mid.name})", mid.user, page,
                   PAGE_TARGET_SECONDS)
        self._time("reconciliation page, officer, one person's part", officer, f"{page}?subtree={mid.pk}",
                   PAGE_TARGET_SECONDS)
        self._time(f"follow-ups page, mid-level manager ({asked} asked of them)", mid.user,
                   reverse("questionnaires:follow_ups"), PAGE_TARGET_SECONDS)
        self._time("item API, officer, first page of 100", officer,
                   f"{reverse('api:reconciliationitem-list')}?campaign={campaign.pk}", PAGE_TARGET_SECONDS)

    def _time(self, label: str, user: User, url: str, target: float) -> None:
        """One page through the whole request cycle (middleware, view, template)."""
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        timings, query_counts = [], set()
        for _ in range(REPEATS):
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                response = client.get(url)
                timings.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise CommandError(f"{label}: HTTP {response.status_code}")
            query_counts.add(len(queries))
        slowest = max(timings)
        self.stdout.write(
            f"{label}: slowest {slowest * 1000:.1f} ms, median {statistics.median(timings) * 1000:.1f} ms of "
            f"{REPEATS}, {'/'.join(map(str, sorted(query_counts)))} queries  target {target * 1000:g} ms  "
            f"{_verdict(slowest, target)}"
        )

    @staticmethod
    def _user(username: str, role: str) -> User:
        user = User.objects.create(username=username)
        user.groups.add(Group.objects.get_or_create(name=role)[0])
        return user

    @staticmethod
    def _template(tag: str) -> TemplateVersion:
        template = QuestionnaireTemplate.objects.create(slug=f"benchmark-recon-{tag}", name=f"Benchmark {tag}")
        version = TemplateVersion.objects.create(template=template, number=1)
        area = Section.objects.create(version=version, key="area", order=1, title="Your area")
        Question.objects.create(section=area, key="vms", order=1, text="Your VMs", kind=QuestionKind.VM_LIST)
        return version

    @staticmethod
    def _estate(campaign: Campaign, version: TemplateVersion, tag: str, declared: int, undeclared: int) -> None:
        """Per person: ``declared`` VMs in their list, every other one seen by the inventory under the same name,
        and ``undeclared`` VMs they own that nobody lists."""
        question = Question.objects.get(section__version=version, key="vms")
        source = Source.objects.create(name=f"benchmark-{tag}", kind=SourceKind.CSV)
        now = timezone.now()
        rows, vms = [], []
        parts = Assignment.objects.filter(campaign=campaign).values_list("id", "person_id")
        for assignment_id, person_id in parts:
            for number in range(declared):
                name = f"p{person_id}-app{number}-{tag}"
                rows.append(DeclaredVM(assignment_id=assignment_id, question=question, row=number + 1, name=name,
                                       disposition=Disposition.ADDED))
                if number % 2 == 0:
                    vms.append(VirtualMachine(source=source, name=name, owner_id=person_id, first_seen=now,
                                              last_seen=now, moref=f"vm-{person_id}-{number}"))
            for number in range(undeclared):
                vms.append(VirtualMachine(source=source, name=f"p{person_id}-stray{number}-{tag}", owner_id=person_id,
                                          first_seen=now, last_seen=now, moref=f"vm-{person_id}-s{number}"))
        DeclaredVM.objects.bulk_create(rows, batch_size=BATCH)
        VirtualMachine.objects.bulk_create(vms, batch_size=BATCH)
