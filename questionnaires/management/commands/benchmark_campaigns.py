"""Benchmark of the campaign workflow at the issue's scale: launch, progress and one reminder run, rolled back."""

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

from portal.choices import Role
from portal.management.commands.benchmark_people_import import BENCHMARK_DOMAIN, LEVELS, write_org_csv
from portal.models import Notification, Person, User
from portal.services.people import people_import
from questionnaires.choices import QuestionKind
from questionnaires.models import Assignment, Campaign, Question, QuestionnaireTemplate, Section, TemplateVersion
from questionnaires.selectors import assignment_children_progress, campaign_progress
from questionnaires.services.campaigns import campaign_create, campaign_launch
from questionnaires.services.reminders import reminders_run

# The targets for an organisation of 5,000 people over 7 levels.
LAUNCH_TARGET_SECONDS = 10.0
PROGRESS_TARGET_SECONDS = 0.300
REMINDERS_TARGET_SECONDS = 30.0
# Progress is timed this many times; the slowest is reported and judged.
PROGRESS_REPEATS = 5
# The level of the org chart whose first manager is the "mid-level manager" (0 is the root).
MID_LEVEL = 3


def _verdict(seconds: float, target: float) -> str:
    return "PASS" if seconds < target else "FAIL"


class Command(BaseCommand):
    help = (
        "Time the campaign workflow on a generated organisation: launching a cascading campaign (assignments and "
        "notifications queued), campaign progress for the root and a mid-level manager (time and queries), and "
        "one reminder run over every assignment overdue, against the issue's targets "
        f"({LAUNCH_TARGET_SECONDS:g} s, {PROGRESS_TARGET_SECONDS * 1000:g} ms, {REMINDERS_TARGET_SECONDS:g} s). "
        "Everything runs in one transaction that is rolled back at the end: nothing is kept and nothing is e-mailed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=5_000, help="People in the organisation (default 5,000).")

    def handle(self, *args, count: int, **options):
        if count < 10:
            raise CommandError("--count must be at least 10")
        self.stdout.write(
            f"Campaign benchmark on {connection.vendor}: {count} people over {LEVELS} levels; "
            "rolled back at the end, nothing is kept."
        )
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "people.csv"
            write_org_csv(path, count)
            with transaction.atomic():
                self._run(path, count)
                transaction.set_rollback(True)

    def _run(self, path: Path, count: int) -> None:
        tag = uuid.uuid4().hex[:8]
        with path.open("rb") as stream:
            start = time.perf_counter()
            people_import(stream=stream, source_name=path.name)
        self.stdout.write(f"setup: imported {count} people in {time.perf_counter() - start:.2f} s")
        root = Person.objects.get(email=f"person0@{BENCHMARK_DOMAIN}")
        owner = User.objects.create(username=f"benchmark-officer-{tag}")
        owner.groups.add(Group.objects.get_or_create(name=Role.COMPLIANCE_OFFICER)[0])
        campaign = campaign_create(
            name=f"Benchmark campaign {tag}",
            version=self._template(tag),
            scope=root,
            owner=owner,
            due_date=timezone.localdate() + datetime.timedelta(days=14),
            reminder_every_days=7,
            escalate_after_days=3,
            cascade=True,
        )

        notifications_before = Notification.objects.count()
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            created = campaign_launch(campaign=campaign, user=owner)
            seconds = time.perf_counter() - start
        queued = Notification.objects.count() - notifications_before
        self.stdout.write(
            f"launch, cascading: {seconds:.3f} s, {len(queries)} queries ({created} assignments, {queued} "
            f"notifications queued)  target {LAUNCH_TARGET_SECONDS:g} s  {_verdict(seconds, LAUNCH_TARGET_SECONDS)}"
        )

        mid = (
            Person.objects.with_tree_fields()
            .filter(email__endswith=f"@{BENCHMARK_DOMAIN}", tree_depth=MID_LEVEL)
            .order_by("id")
            .first()
        )
        for label, person in (("root", None), (f"mid-level manager (level {MID_LEVEL}, {mid.name})", mid)):
            self._time_progress(label, campaign, person)
        mid.user = User.objects.create(username=f"benchmark-manager-{tag}")
        mid.user.groups.add(Group.objects.get_or_create(name=Role.MANAGER)[0])
        mid.save(update_fields=["user"])
        for label, user in (("officer, whole tree", owner), ("mid-level manager, own subtree", mid.user)):
            self._time_page(label, campaign, user)
        root_part = Assignment.objects.select_related("campaign").get(campaign=campaign, parent=None)
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            branches = assignment_children_progress(assignment=root_part)
            seconds = time.perf_counter() - start
        self.stdout.write(
            f"drill-down of the root ({len(branches)} branches): {seconds * 1000:.1f} ms, {len(queries)} queries  "
            f"target {PROGRESS_TARGET_SECONDS * 1000:g} ms  {_verdict(seconds, PROGRESS_TARGET_SECONDS)}"
        )

        # Every assignment overdue by one escalation delay: each one escalates to its manager.
        Campaign.objects.filter(pk=campaign.pk).update(due_date=timezone.localdate() - datetime.timedelta(days=3))
        start = time.perf_counter()
        result = reminders_run()
        seconds = time.perf_counter() - start
        self.stdout.write(
            f"reminder run, all overdue: {seconds:.3f} s ({result['assignments_checked']} open assignments "
            f"checked, {result['escalations']} escalations, {result['reminders']} reminders queued)  "
            f"target {REMINDERS_TARGET_SECONDS:g} s  {_verdict(seconds, REMINDERS_TARGET_SECONDS)}"
        )
        start = time.perf_counter()
        again = reminders_run()
        self.stdout.write(
            f"reminder run again, same day: {time.perf_counter() - start:.3f} s "
            f"({again['escalations']} escalations, {again['reminders']} reminders: nothing is sent twice)"
        )

    def _time_page(self, label: str, campaign: Campaign, user: User) -> None:
        """The campaign page itself through the whole request cycle (middleware, view, template)."""
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        url = reverse("questionnaires:campaign_detail", kwargs={"pk": campaign.pk})
        timings, query_counts = [], set()
        for _ in range(PROGRESS_REPEATS):
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                response = client.get(url)
                timings.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise CommandError(f"campaign page for {label}: HTTP {response.status_code}")
            query_counts.add(len(queries))
        slowest = max(timings)
        self.stdout.write(
            f"campaign page, {label}: slowest {slowest * 1000:.1f} ms, median {statistics.median(timings) * 1000:.1f}"
            f" ms of {PROGRESS_REPEATS}, {'/'.join(map(str, sorted(query_counts)))} queries  "
            f"target {PROGRESS_TARGET_SECONDS * 1000:g} ms  {_verdict(slowest, PROGRESS_TARGET_SECONDS)}"
        )

    def _time_progress(self, label: str, campaign: Campaign, person: Person | None) -> None:
        timings, query_counts = [], set()
        for _ in range(PROGRESS_REPEATS):
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                counts = campaign_progress(campaign=campaign, root_person=person)
                timings.append(time.perf_counter() - start)
            query_counts.add(len(queries))
        slowest = max(timings)
        self.stdout.write(
            f"progress, {label}: slowest {slowest * 1000:.1f} ms, median {statistics.median(timings) * 1000:.1f} ms "
            f"of {PROGRESS_REPEATS}, {'/'.join(map(str, sorted(query_counts)))} queries ({counts['total']} "
            f"assignments)  target {PROGRESS_TARGET_SECONDS * 1000:g} ms  {_verdict(slowest, PROGRESS_TARGET_SECONDS)}"
        )

    def _template(self, tag: str) -> TemplateVersion:
        """A small questionnaire: the workflow's cost does not depend on the questions."""
        template = QuestionnaireTemplate.objects.create(slug=f"benchmark-{tag}", name=f"Benchmark {tag}")
        version = TemplateVersion.objects.create(template=template, number=1)
        area = Section.objects.create(version=version, key="area", order=1, title="Your area")
        Question.objects.create(section=area, key="runs_vms", order=1, text="Does your area run VMs?",
                                kind=QuestionKind.YES_NO, required=True)
        Question.objects.create(section=area, key="vms", order=2, text="Your VMs", kind=QuestionKind.VM_LIST)
        return version
