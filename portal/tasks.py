"""Celery doors onto the portal's services: e-mailing notifications, anchoring the audit trail.

Safe to run twice, so a database error that is transient (a lock held by a concurrent run, a dropped
connection) is retried with backoff rather than lost.
"""

from celery import shared_task
from django.db import OperationalError

from portal.services.audit import audit_anchor_create
from portal.services.notifications import notifications_send

# Transient database trouble: retried after 1, 2, 4... seconds (jittered), at most this many times.
DATABASE_RETRIES = 5


@shared_task(
    name="portal.notifications_send",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=DATABASE_RETRIES,
)
def notifications_send_task() -> int:
    """E-mail the notifications not sent yet; rows are claimed before sending, so a second run sends nothing."""
    return notifications_send()


@shared_task(name="portal.audit_anchor_take", soft_time_limit=60, time_limit=120)
def audit_anchor_take() -> str:
    """For beat, daily: anchor the audit trail's head and log the anchor (to be kept outside the database)."""
    return audit_anchor_create(actor_label="system: audit anchor (daily)").text
