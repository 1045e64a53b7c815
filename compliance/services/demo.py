"""The compliance part of ``manage.py load_demo``: the catalogs shipped in ``compliance/data/``, a built evidence
pack for each regulation and the demo auditor's grants.

Loaded through the same services as ``manage.py load_catalogs`` and ``build_pack``, so running the demo twice
changes nothing: a regulation that has a ready demo pack gets no second one.
"""

import datetime

from django.utils import timezone

from compliance.choices import FrameworkKind, PackState
from compliance.models import EvidencePack, Framework
from compliance.services.catalogs import catalogs_load
from compliance.services.grants import framework_grant
from compliance.services.packs import pack_build, pack_request
from portal.models import User

DEMO_PACK_LABEL = "demo"
# The demo's packs cover the last quarter: the live campaign and its reconciliation fall in it.
DEMO_PERIOD_DAYS = 90
# Fixed seeds: the demo's samples are the same VMs every time it is loaded afresh, and its packs are known by them.
DEMO_SEEDS = {"hipaa": 1001, "sox": 1002, "glba": 1003}


def demo_load() -> list[str]:
    """Load the catalogs, build the packs and grant them to the demo auditor; one line per step for the summary."""
    lines = []
    for result in catalogs_load():
        state = f"{result.requirements} requirements loaded" if result.created else "unchanged"
        lines.append(f"Catalog {result.slug} v{result.number}: {state}.")
    today = timezone.localdate()
    officer = User.objects.filter(username="officer").first()
    auditor = User.objects.filter(username="auditor").first()
    for framework in Framework.objects.filter(kind=FrameworkKind.REGULATION).order_by("slug"):
        seed = DEMO_SEEDS.get(framework.slug, 1000)
        pack = EvidencePack.objects.filter(framework=framework, sample_seed=seed, state=PackState.READY).first()
        if pack is None:
            pack = pack_request(framework_slug=framework.slug, period_start=today - datetime.timedelta(
                days=DEMO_PERIOD_DAYS), period_end=today, user=officer, actor_label=DEMO_PACK_LABEL,
                sample_size=10, sample_seed=seed)
            pack = pack_build(pack_id=pack.pk)
            lines.append(f"Evidence pack {pack.pk} ({framework.slug}): {pack.get_state_display().lower()}"
                         f"{', SHA-256 ' + pack.pdf_sha256 if pack.pdf_sha256 else ': ' + pack.failure_reason}.")
        else:
            lines.append(f"Evidence pack {pack.pk} ({framework.slug}): unchanged.")
        if auditor is not None and officer is not None and not auditor.access_expired():
            framework_grant(auditor=auditor, framework=framework, user=officer)
    return lines
