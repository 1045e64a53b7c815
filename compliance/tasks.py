"""Celery doors onto the pack service: ids in, service call, nothing else."""

from celery import shared_task

from compliance.services.packs import pack_build

# A pack of 10,000 VMs builds in about a minute; the renderer's own limit (PDF_RENDER_TIMEOUT) stops first.
PACK_SOFT_TIME_LIMIT = 20 * 60
PACK_TIME_LIMIT = PACK_SOFT_TIME_LIMIT + 60


@shared_task(name="compliance.pack_build", soft_time_limit=PACK_SOFT_TIME_LIMIT, time_limit=PACK_TIME_LIMIT)
def pack_build_task(pack_id: int) -> str:
    """Build a queued pack; a second delivery of the same pack does nothing."""
    return pack_build(pack_id=pack_id).state
