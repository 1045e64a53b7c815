"""Settings for the test suite: DATABASE_URL and CELERY_BROKER_URL still come
from the environment, so CI runs the same tests on PostgreSQL and Redis."""

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests choose per test whether a task runs eagerly or on a real worker.
CELERY_TASK_ALWAYS_EAGER = True
AXES_FAILURE_LIMIT = 3
# pytest-django flushes the database between transactional tests; production refuses that (see flush.py).
AUDIT_TRAIL_FLUSHABLE = True
