"""Celery doors onto the portal's services."""

from celery import shared_task

from portal.services.audit import audit_anchor_create


@shared_task(name="portal.audit_anchor_take", acks_late=True, soft_time_limit=60, time_limit=120)
def audit_anchor_take() -> str:
    """For beat, daily: anchor the audit trail's head and log the anchor (to be kept outside the database)."""
    return audit_anchor_create(actor_label="system: audit anchor (daily)").text
