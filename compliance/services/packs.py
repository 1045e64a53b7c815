"""Evidence packs: ask for one, build it (a Celery task on the ``pdf`` queue), verify it, download it.

A build reads every section (``compliance.pack_sections``), renders one PDF/A-3 with the portal's renderer that
fetches nothing (``portal.pdf``), and stores the PDF, its SHA-256 and the manifest in one transaction: a pack is
either ready whole or failed with its reason, never half there. A ready pack is never written again.

The manifest lists every table (source, parameters, producer, row count, hash of the rows) and every attachment
with its hash. It is printed as the last page, attached as ``manifest.json``, and stored; ``evidence.json``
attaches the rows of every table so that ``pack_verify`` recomputes each table's hash from the PDF itself.
"""

import datetime
import io
import json
import logging
from dataclasses import dataclass

import pypdf
from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from compliance.choices import FrameworkKind, PackState
from compliance.models import EvidencePack, Framework
from compliance.pack_sections import (
    SECTIONS,
    PackContext,
    canonical_json,
    population_scope,
    sha256_hex,
)
from compliance.selectors import latest_versions
from compliance.services.sampling import SAMPLE_SIZE_MAX, sample_draw, sample_seed_new
from portal.choices import NotificationKind
from portal.models import User
from portal.pdf import PdfAttachment, PdfRenderError, pdf_render, static_text
from portal.services.audit import audit_anchor_create, audit_log
from portal.services.notifications import notification_new, notifications_notify

logger = logging.getLogger(__name__)

MANIFEST_FORMAT = "vmcensus-evidence-pack/1"
# The sample an auditor starts from: 25 items, the practitioners' figure for a control operating daily.
DEFAULT_SAMPLE_SIZE = 25
# A build still "building" after this long lost its worker (the task's hard limit is shorter): it may be claimed.
STALE_BUILD = datetime.timedelta(minutes=30)
MANIFEST_NAME = "manifest.json"
EVIDENCE_NAME = "evidence.json"


class PackRefused(ValueError):
    """A pack that cannot be asked for; ``str()`` names the field and why."""


def pack_request(
    *,
    framework_slug: str,
    period_start: datetime.date,
    period_end: datetime.date,
    as_of: datetime.date | None = None,
    user: User | None = None,
    actor_label: str = "",
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    sample_seed: int | None = None,
) -> EvidencePack:
    """Queue a pack for a regulation and a period; the build runs once the transaction commits."""
    framework = Framework.objects.filter(slug=framework_slug, kind=FrameworkKind.REGULATION).first()
    if framework is None:
        raise PackRefused(f"framework: no regulation {framework_slug!r} is loaded")
    if period_start > period_end:
        raise PackRefused("period: the start is after the end")
    as_of = as_of or period_end
    if as_of < period_start:
        raise PackRefused("as of: the date is before the period starts")
    if as_of > timezone.localdate():
        raise PackRefused("as of: the date is in the future")
    if not 1 <= sample_size <= SAMPLE_SIZE_MAX:
        raise PackRefused(f"sample size: between 1 and {SAMPLE_SIZE_MAX}")
    with transaction.atomic():
        pack = EvidencePack.objects.create(
            framework=framework, period_start=period_start, period_end=period_end, as_of=as_of, built_by=user,
            built_by_label=str(user) if user else actor_label or "system", requested_at=timezone.now(),
            sample_seed=sample_seed_new() if sample_seed is None else sample_seed, sample_size=sample_size,
        )
        audit_log(action="pack.requested", actor=user, actor_label=actor_label, obj=pack,
                  details={"framework": framework.slug, "start": period_start, "end": period_end, "as_of": as_of})
        transaction.on_commit(lambda: _enqueue(pack.pk))
    return pack


def _enqueue(pack_id: int) -> None:
    from compliance.tasks import pack_build_task

    pack_build_task.delay(pack_id)


def _progress(pack_id: int, percent: int, step: str) -> None:
    """Written outside the build's transaction, so the waiting page sees it at once."""
    EvidencePack.objects.filter(pk=pack_id, state=PackState.BUILDING).update(progress=percent, progress_step=step)


def _claim(pack_id: int) -> bool:
    now = timezone.now()
    claimable = EvidencePack.objects.filter(pk=pack_id, state=PackState.QUEUED) | EvidencePack.objects.filter(
        pk=pack_id, state=PackState.BUILDING, started_at__lt=now - STALE_BUILD)
    return EvidencePack.objects.filter(pk__in=claimable.values("pk")).update(
        state=PackState.BUILDING, started_at=now, progress=1, progress_step="Reading the population") == 1


@dataclass
class Built:
    pdf: bytes
    manifest: dict
    peak_memory_mb: float
    render_seconds: float
    render_cpu_seconds: float


def pack_build(*, pack_id: int) -> EvidencePack:
    """Build a queued pack; a second delivery of the same pack does nothing. A failure is recorded with its
    reason and leaves no PDF."""
    if not _claim(pack_id):
        return EvidencePack.objects.get(pk=pack_id)
    pack = EvidencePack.objects.select_related("framework", "built_by").get(pk=pack_id)
    try:
        built = _build(pack)
    except PdfRenderError as error:
        return _fail(pack, str(error))
    except Exception as error:
        logger.exception("Evidence pack %s failed", pack_id)
        return _fail(pack, f"the build stopped on an unexpected error ({type(error).__name__}); see the log")
    with transaction.atomic():
        pdf_sha256 = sha256_hex(built.pdf)
        EvidencePack.objects.filter(pk=pack.pk, state=PackState.BUILDING).update(
            state=PackState.READY, pdf=built.pdf, pdf_sha256=pdf_sha256, manifest=built.manifest,
            manifest_sha256=sha256_hex(canonical_json(built.manifest)), finished_at=timezone.now(), progress=100,
            progress_step="Ready",
        )
        pack.refresh_from_db()
        audit_log(action="pack.built", actor_label=f"system: pack {pack.pk}", obj=pack,
                  details={"pdf_sha256": pdf_sha256, "manifest_sha256": pack.manifest_sha256,
                           "peak_memory_mb": built.peak_memory_mb})
        _notify_ready(pack)
    # For benchmark_packs: what rendering took, in wall time, CPU time and memory.
    pack.render_seconds, pack.render_cpu_seconds = built.render_seconds, built.render_cpu_seconds
    pack.peak_memory_mb = built.peak_memory_mb
    return pack


def _fail(pack: EvidencePack, reason: str) -> EvidencePack:
    with transaction.atomic():
        EvidencePack.objects.filter(pk=pack.pk).update(
            state=PackState.FAILED, failure_reason=reason[:2000], pdf=None, pdf_sha256="", manifest={},
            manifest_sha256="", finished_at=timezone.now(), progress_step="Failed",
        )
        pack.refresh_from_db()
        audit_log(action="pack.failed", actor_label=f"system: pack {pack.pk}", obj=pack, details={"reason": reason})
    return pack


def _notify_ready(pack: EvidencePack) -> None:
    person = getattr(pack.built_by, "person", None) if pack.built_by else None
    if person is None:
        return
    notifications_notify([notification_new(
        person_id=person.pk, kind=NotificationKind.PACK_READY, about=pack,
        subject=f"Evidence pack {pack.pk} ({pack.framework.name}) is ready",
        body=f"The {pack.framework.name} pack for {pack.period_start} to {pack.period_end} is ready; its SHA-256 "
             f"is {pack.pdf_sha256}.",
        link=f"/compliance/packs/{pack.pk}/", dedupe_key=f"pack-ready:{pack.pk}",
    )])


def _build(pack: EvidencePack) -> Built:
    produced_at = timezone.now()
    population, out_of_scope = population_scope(
        framework=pack.framework, period_start=pack.period_start, as_of=pack.as_of)
    population_ids = tuple(row["id"] for row in population)
    sample_ids = tuple(sample_draw(population_ids=list(population_ids), seed=pack.sample_seed,
                                   size=pack.sample_size))
    anchor = audit_anchor_create(actor_label=f"system: pack {pack.pk}")
    ctx = PackContext(
        pack_id=pack.pk, framework=pack.framework,
        version=latest_versions().filter(framework=pack.framework).first(), period_start=pack.period_start,
        period_end=pack.period_end, as_of=pack.as_of, produced_at=produced_at, produced_by=pack.built_by_label,
        sample_seed=pack.sample_seed, sample_ids=sample_ids, population_ids=population_ids,
    )
    sections = []
    for number, selector in enumerate(SECTIONS):
        _progress(pack.pk, 5 + 60 * number // len(SECTIONS), f"Reading: {selector.__doc__.split(':')[0]}")
        sections.append(selector(ctx, population, out_of_scope))
    tables = [table for section in sections for table in section.tables]
    evidence = {table.key: {"columns": table.columns, "rows": table.rows} for table in tables}
    attachments = [attachment for section in sections for attachment in section.attachments]
    attachments.append(PdfAttachment(name=EVIDENCE_NAME, content=canonical_json(evidence),
                                     description="The rows of every table of the pack, as hashed"))
    manifest = {
        "format": MANIFEST_FORMAT,
        "pack_id": pack.pk,
        "organisation": settings.ORGANISATION_NAME,
        "framework": {"slug": pack.framework.slug, "name": pack.framework.name,
                      "catalog_version": ctx.version.number if ctx.version else None,
                      "catalog_sha256": ctx.version.content_hash if ctx.version else None},
        "period": {"start": str(pack.period_start), "end": str(pack.period_end), "as_of": str(pack.as_of)},
        "produced_at": produced_at.astimezone(datetime.UTC).isoformat(timespec="seconds"),
        "produced_by": pack.built_by_label,
        "sample": {"seed": pack.sample_seed, "size": len(sample_ids), "vm_ids": list(sample_ids)},
        "population_ids": list(population_ids),
        "audit_anchor": anchor.text,
        "tables": [table.manifest_entry() for table in tables],
        "attachments": [{"name": a.name, "description": a.description, "bytes": len(a.content),
                         "sha256": sha256_hex(a.content)} for a in attachments],
    }
    attachments.append(PdfAttachment(name=MANIFEST_NAME, content=canonical_json(manifest),
                                     description="The manifest: every table and attachment with its SHA-256"))
    _progress(pack.pk, 70, "Rendering the PDF")
    html = render_to_string("compliance/pdf/pack.html", {
        "pack": pack, "ctx": ctx, "sections": sections, "manifest": manifest,
        "organisation": settings.ORGANISATION_NAME, "stylesheet": static_text("css/pack.css"),
    })
    result = pdf_render(html=html, attachments=attachments,
                        title=f"{pack.framework.name} evidence pack {pack.pk}")
    _progress(pack.pk, 95, "Storing the PDF")
    return Built(pdf=result.pdf, manifest=manifest, peak_memory_mb=result.peak_memory_mb,
                 render_seconds=result.seconds, render_cpu_seconds=result.cpu_seconds)


def pack_verify(*, pack: EvidencePack) -> list[str]:
    """Recompute every hash of a ready pack; the problems found, each naming what changed (none: intact)."""
    if pack.state != PackState.READY:
        return [f"pack {pack.pk} is {pack.get_state_display().lower()}, not ready: there is nothing to verify"]
    problems = []
    pdf = bytes(pack.pdf)
    if sha256_hex(pdf) != pack.pdf_sha256:
        problems.append(f"the PDF: its SHA-256 is {sha256_hex(pdf)}, the pack records {pack.pdf_sha256}")
    if sha256_hex(canonical_json(pack.manifest)) != pack.manifest_sha256:
        problems.append("the stored manifest: its SHA-256 differs from the one recorded when the pack was built")
    try:
        attached = {name: contents[0] for name, contents in pypdf.PdfReader(io.BytesIO(pdf)).attachments.items()}
    except Exception as error:  # pypdf raises many kinds on a damaged file; each means the same here
        return [*problems, f"the PDF cannot be read ({type(error).__name__}): its attachments are not checked"]
    evidence = _evidence(attached.get(EVIDENCE_NAME))
    for entry in pack.manifest.get("attachments", []):
        content = attached.pop(entry["name"], None)
        if content is None:
            problems.append(f"attachment {entry['name']}: missing from the PDF")
        elif sha256_hex(content) != entry["sha256"]:
            problems.append(f"attachment {entry['name']}: its SHA-256 is {sha256_hex(content)}, the manifest "
                            f"lists {entry['sha256']}")
    manifest_copy = attached.pop(MANIFEST_NAME, None)
    if manifest_copy != canonical_json(pack.manifest):
        problems.append(f"attachment {MANIFEST_NAME}: differs from the stored manifest")
    problems += [f"attachment {name}: in the PDF but not in the manifest" for name in sorted(attached)]
    for table in pack.manifest.get("tables", []):
        rows = (evidence or {}).get(table["key"], {}).get("rows")
        if rows is None:
            problems.append(f"table {table['key']}: its rows are not in {EVIDENCE_NAME}")
        elif sha256_hex(canonical_json(rows)) != table["sha256"] or len(rows) != table["rows"]:
            problems.append(f"table {table['key']} ({table['title']}): its rows no longer give the SHA-256 "
                            f"{table['sha256']}")
    return problems


def _evidence(content: bytes | None) -> dict | None:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None


def pack_download_log(*, pack: EvidencePack, user: User, what: str = "pdf") -> None:
    """Every download of a pack (or its manifest) is an audit event carrying the pack's hash."""
    audit_log(action="pack.downloaded", actor=user, obj=pack,
              details={"what": what, "pdf_sha256": pack.pdf_sha256, "manifest_sha256": pack.manifest_sha256})
