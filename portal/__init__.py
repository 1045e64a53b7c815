"""The vmcensus project package: settings, URLs, the Celery app, people, roles and the audit trail."""

from .celery import app as celery_app

__all__ = ["celery_app"]
