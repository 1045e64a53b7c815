"""The compliance part of ``manage.py load_demo``: the catalogs and the control library shipped in
``compliance/data/``, owners for the controls, the frameworks' scope on the demo estate, a history of
evaluations, then the compliance records (applicability, decisions, the security plan, exceptions, tests), a built
evidence pack for each regulation and the demo auditor's grants.

Loaded through the same services as ``manage.py load_catalogs``, ``load_controls``, ``evaluate_controls`` and
``build_pack``, so running the demo twice changes nothing: a regulation with a ready demo pack gets no second.
"""

import datetime

from django.db import transaction
from django.utils import timezone

from compliance.choices import EvaluationTrigger, FrameworkKind, PackState
from compliance.models import Control, ControlEvaluation, EvidencePack, Framework
from compliance.services.catalogs import catalogs_load
from compliance.services.controls import control_update, controls_load
from compliance.services.demo_records import records_demo_load
from compliance.services.evaluation import controls_evaluate
from compliance.services.grants import framework_grant
from compliance.services.packs import pack_build, pack_request
from inventory.models import VirtualMachine
from portal.choices import Role
from portal.models import Person, User

# Which demo clusters hold regulated data, as their owners would declare it in a campaign: the clinical systems
# (HIPAA), the general ledger (SOX), the card and loan platform (GLBA, and some of it feeds the ledger).
DEMO_SCOPES = {
    "east-dc1-cl1": ["ephi"],
    "west-dc1-cl1": ["financial_reporting"],
    "east-dc2-cl1": ["customer_financial"],
    "east-dc2-cl2": ["customer_financial", "financial_reporting"],
}
# Demo history: the controls evaluated as of each of these many weeks before today, then today.
HISTORY_WEEKS = 8

# The demo's packs cover the last quarter: the live campaign, its reconciliation and the evaluations fall in it.
DEMO_PERIOD_DAYS = 90
# Fixed seeds: the demo's samples are the same VMs every time it is loaded afresh, and its packs are known by them.
DEMO_SEEDS = {"hipaa": 1001, "sox": 1002, "glba": 1003}


def _owners() -> int:
    """Give each control an owner: the officer's or the security admin's person, by the control's owner role."""
    officer = User.objects.filter(username="officer").first()
    people = {
        role: Person.objects.filter(user__groups__name=role).order_by("id").first()
        for role in (Role.COMPLIANCE_OFFICER, Role.SECURITY_ADMIN)
    }
    assigned = 0
    if officer is None:
        return assigned
    for control in Control.objects.filter(owner__isnull=True).order_by("code"):
        owner = people.get(control.owner_role) or people[Role.COMPLIANCE_OFFICER]
        if owner is not None:
            control_update(control=control, owner=owner, threshold=control.threshold, user=officer)
            assigned += 1
    return assigned


def _scopes() -> int:
    """The data categories of the demo's regulated clusters (empty categories only: a declaration wins)."""
    changed = 0
    for cluster, categories in DEMO_SCOPES.items():
        changed += VirtualMachine.objects.filter(cluster__name=cluster, data_categories=[]).update(
            data_categories=categories
        )
    return changed


def demo_load() -> list[str]:
    """Load the catalogs and the library, scope the estate and evaluate; one line per step for the summary."""
    lines = []
    for result in catalogs_load():
        state = f"{result.requirements} requirements loaded" if result.created else "unchanged"
        lines.append(f"Catalog {result.slug} v{result.number}: {state}.")
    with transaction.atomic():
        loaded = controls_load()
        owners = _owners()
        scoped = _scopes()
    lines.append(f"Control library: {len(loaded.created)} controls loaded, {loaded.unchanged} unchanged"
                 f"{f', {owners} owners assigned' if owners else ''}"
                 f"{f', {scoped} VMs given the data categories of their cluster' if scoped else ''}.")
    return [*lines, _evaluations(), *records_demo_load(), *_packs_load()]


def _evaluations() -> str:
    if ControlEvaluation.objects.filter(run__isnull=False).exists():
        return "Control evaluations: already evaluated."
    now = timezone.now()
    for weeks in range(HISTORY_WEEKS, 0, -1):
        controls_evaluate(trigger=EvaluationTrigger.COMMAND, at=now - datetime.timedelta(weeks=weeks))
    run = controls_evaluate(trigger=EvaluationTrigger.COMMAND)
    figures = ", ".join(f"{count} {status.replace('_', ' ')}" for status, count in run.counts.items())
    return (f"Control evaluations: {HISTORY_WEEKS} weekly as of past dates (on today's VM facts where the "
            f"inventory keeps no history), then today: {figures}.")


def _packs_load() -> list[str]:
    """A ready pack of each regulation, built by the demo officer, granted to the demo auditor."""
    lines = []
    today = timezone.localdate()
    officer = User.objects.filter(username="officer").first()
    auditor = User.objects.filter(username="auditor").first()
    for framework in Framework.objects.filter(kind=FrameworkKind.REGULATION).order_by("slug"):
        seed = DEMO_SEEDS.get(framework.slug, 1000)
        pack = EvidencePack.objects.filter(framework=framework, sample_seed=seed, state=PackState.READY).first()
        if pack is None:
            pack = pack_request(framework_slug=framework.slug, period_start=today - datetime.timedelta(
                days=DEMO_PERIOD_DAYS), period_end=today, user=officer, actor_label="demo", sample_size=10,
                sample_seed=seed)
            pack = pack_build(pack_id=pack.pk)
            lines.append(f"Evidence pack {pack.pk} ({framework.slug}): {pack.get_state_display().lower()}"
                         f"{', SHA-256 ' + pack.pdf_sha256 if pack.pdf_sha256 else ': ' + pack.failure_reason}.")
        else:
            lines.append(f"Evidence pack {pack.pk} ({framework.slug}): unchanged.")
        if auditor is not None and officer is not None and not auditor.access_expired():
            framework_grant(auditor=auditor, framework=framework, user=officer)
    return lines
