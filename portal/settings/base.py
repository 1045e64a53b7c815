"""Settings shared by every deployment; every value comes from the environment.

Defaults here are the embedded demo's: a SQLite file, Celery tasks run eagerly
in-process and e-mail printed to the console. Production overrides them in
``production.py``, where secrets have no default.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF, UNSAFE_INLINE

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="insecure-demo-key-only-for-the-embedded-portal-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The public address of the portal, used in links sent by e-mail.
PORTAL_BASE_URL = env("PORTAL_BASE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "bootstrap",
    "axes",
    "csp",
    "portal",
    "inventory",
    "questionnaires",
    "compliance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After the message middleware: it tells the logged-out user why with a message.
    "portal.middleware.AccessExpiryMiddleware",
    # Before any view reads the request (CSRF's check included), after the layout's user and messages exist.
    "portal.middleware.RefuseBadInputMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Axes must come last so it sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy (django-csp) on every page, the demo's too, so a violation shows up early.
# Scripts come only from the portal's own static files: no inline script, no eval (htmx runs with
# allowEval off, see base.html). The one relaxation: style attributes, for widths that are data
# (progress bars) and Bootstrap's markup; an attribute cannot run code. Bootstrap's CSS draws its
# checkboxes and arrows with data: SVG images. The API docs page relaxes more, on that view only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.navigation",
                "portal.context_processors.inbox",
            ],
            "builtins": ["portal.templatetags.portal_tags"],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'vmcensus.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded demo: writers take the lock when their transaction starts and wait for each other
    # (two autosaves at once), instead of failing at once with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Lockout after repeated failed logins (django-axes): per user name and address.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.5)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
MEDIA_URL = "media/"

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="vmcensus <vmcensus@localhost>")

# Keys that encrypt secrets at rest (source passwords). The first encrypts;
# all of them decrypt, so a key can be rotated by putting the new one first.
ENCRYPTION_KEYS = env.list("ENCRYPTION_KEYS", default=["ZGVtby1vbmx5LWtleS1kby1ub3QtdXNlLWluLXByb2Q="])

# Seconds before a vCenter call is abandoned (connect and each request).
VSPHERE_TIMEOUT = env.int("VSPHERE_TIMEOUT", default=60)

# Largest VM list a person may upload to a questionnaire (CSV or xlsx), in bytes: 2 MB holds
# thousands of rows, far more than the 2,000 rows a list may have.
QUESTIONNAIRE_UPLOAD_MAX_BYTES = env.int("QUESTIONNAIRE_UPLOAD_MAX_BYTES", default=2 * 1024 * 1024)

# Largest evidence file a control test may attach (PDF, PNG, JPEG, CSV, XLSX, TXT), in bytes: a scanned report or
# an exported log fits in 10 MB.
EVIDENCE_UPLOAD_MAX_BYTES = env.int("EVIDENCE_UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)

# The PDF renderer runs in a child process stopped after this many seconds or above this much memory (evidence
# packs of 10,000 VMs render in well under a minute and a gigabyte).
PDF_RENDER_TIMEOUT = env.int("PDF_RENDER_TIMEOUT", default=300)
PDF_RENDER_MEMORY_MB = env.int("PDF_RENDER_MEMORY_MB", default=1536)
# The organisation an evidence pack's cover names.
ORGANISATION_NAME = env("ORGANISATION_NAME", default="Example Organisation")

# Days a declared creation date may be from vCenter's createDate before reconciliation calls it a mismatch:
# people remember the month a VM was built, not the day.
RECONCILIATION_CREATED_TOLERANCE_DAYS = env.int("RECONCILIATION_CREATED_TOLERANCE_DAYS", default=31)
# Never in production: lets `manage.py flush` empty the audit trail (the test suite flushes between tests).
AUDIT_TRAIL_FLUSHABLE = False

# Deployment requests: security admins' approvals a request needs (a request may ask for more), and the days before
# an approved VM's end date its owner is reminded to decommission it.
DEPLOYMENT_APPROVAL_QUORUM = env.int("DEPLOYMENT_APPROVAL_QUORUM", default=1)
DECOMMISSION_REMINDER_DAYS = env.int("DECOMMISSION_REMINDER_DAYS", default=14)

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Celery: with no broker configured, tasks run eagerly in the calling process.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# A prefix for every key the portal puts in Redis: lets two deployments (or test runs) share one database.
BROKER_KEY_PREFIX = env("CELERY_BROKER_KEY_PREFIX", default="")
if BROKER_KEY_PREFIX:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": BROKER_KEY_PREFIX}
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
# A task is acknowledged when it is done, and given back to the queue when its worker dies mid-way: every task is
# safe to run twice, so a lost worker costs a repeat, never a lost scan or e-mail.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Every task is stopped if it runs away: a soft limit (the task may clean up), then a hard one. Tasks that take
# longer by nature (a scan of a large vCenter, a PDF pack) set their own limits on the task.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=10 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=11 * 60)
# Redis re-delivers a message not acknowledged within this time: it must be longer than the longest task (a scan's
# hard limit) and the longest countdown or retry delay, or a running task would be delivered again.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=4 * 3600)}
# Queues by task name: workers are started per queue (README, "Operating it"). ``policies`` takes policy
# evaluation and vCenter actions.
CELERY_TASK_ROUTES = {
    "inventory.scan_run_execute": {"queue": "scans"},
    "inventory.scan_all_sources": {"queue": "scans"},
    "inventory.policies_evaluate": {"queue": "policies"},
    "inventory.policy_tags_apply": {"queue": "policies"},
    "inventory.action_batch_execute": {"queue": "policies"},
    "inventory.deployment_requests_link": {"queue": "default"},
    "inventory.deployment_requests_end_dates": {"queue": "notifications"},
    "portal.notifications_send": {"queue": "notifications"},
    "portal.audit_anchor_take": {"queue": "default"},
    "questionnaires.reminders_run": {"queue": "notifications"},
    "questionnaires.reconciliation_run": {"queue": "default"},
    "questionnaires.reconciliation_run_all": {"queue": "default"},
    "compliance.plan_reminders_run": {"queue": "notifications"},
    "compliance.exceptions_expire": {"queue": "default"},
    "compliance.attestation_daily": {"queue": "notifications"},
    "compliance.controls_evaluate": {"queue": "policies"},
    "compliance.pack_build": {"queue": "pdf"},
}
CELERY_TASK_DEFAULT_QUEUE = "default"
# Periodic work for `celery beat` (times in TIME_ZONE). Each task is safe to run twice.
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    # Reminders before the due date and escalations after it, once a day.
    "questionnaires-reminders-daily": {
        "task": "questionnaires.reminders_run",
        "schedule": crontab(hour=env.int("REMINDERS_HOUR", default=6), minute=0),
    },
    # A safety net: e-mails are queued when written, but one queued while the broker was down waits for this.
    "portal-notifications-send": {
        "task": "portal.notifications_send",
        "schedule": crontab(minute="*/10"),
    },
    # A checkpoint of the audit trail's head, logged so that it can be kept outside the database.
    "portal-audit-anchor-daily": {
        "task": "portal.audit_anchor_take",
        "schedule": crontab(hour=env.int("AUDIT_ANCHOR_HOUR", default=0), minute=30),
    },
    # Security plan: sign-offs awaited (weekly per person) and the review date (near, then overdue).
    "compliance-plan-reminders-daily": {
        "task": "compliance.plan_reminders_run",
        "schedule": crontab(hour=env.int("REMINDERS_HOUR", default=6), minute=10),
    },
    # Exceptions past their expiry date expire, reopening what they covered.
    "compliance-exceptions-expire-daily": {
        "task": "compliance.exceptions_expire",
        "schedule": crontab(hour=env.int("REMINDERS_HOUR", default=6), minute=5),
    },
    # Attestation: the test calendar written ahead, owners reminded, missed tests flagged, evidence expired.
    "compliance-attestation-daily": {
        "task": "compliance.attestation_daily",
        "schedule": crontab(hour=env.int("REMINDERS_HOUR", default=6), minute=15),
    },
    # Evaluate every automated control once a day, whatever else triggered it (scans, reconciliations).
    "compliance-controls-evaluate-daily": {
        "task": "compliance.controls_evaluate",
        "schedule": crontab(hour=env.int("CONTROLS_EVALUATE_HOUR", default=5), minute=0),
        "args": ["daily"],
    },
    # Deployment requests near or past their end date: owners reminded, requests expired.
    "inventory-deployment-requests-end-dates-daily": {
        "task": "inventory.deployment_requests_end_dates",
        "schedule": crontab(hour=env.int("REMINDERS_HOUR", default=6), minute=15),
    },
    # Scan every enabled vCenter source.
    "inventory-scan-all-sources": {
        "task": "inventory.scan_all_sources",
        "schedule": crontab(minute=0, hour="*/6"),
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.api.authentication.ExpiringTokenAuthentication",
        "portal.api.authentication.ExpiringSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["portal.api.permissions.RolePermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer", "portal.api.renderers.BrowsableAPIRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["portal.api.filters.StrictFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.PageNumberPagination",
    # The API reads JSON bodies only (forms are the pages' business): one body format to document and validate.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "EXCEPTION_HANDLER": "portal.api.exceptions.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "vmcensus API",
    "DESCRIPTION": "Inventory, questionnaires and compliance evidence for virtualized estates.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    # The favicon too: its default is a CDN URL, and the portal must work offline.
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Choice sets that share a field name ("status") get a name of their own rather than a hashed one.
    "ENUM_NAME_OVERRIDES": {
        "EvaluationStatusEnum": "compliance.choices.EvaluationStatus",
        "PolicyKindEnum": "inventory.choices.PolicyKind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "portal.api.schema.document_error_responses",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # Tasks run eagerly in the demo log a line per call; a worker sets its own levels.
        "celery": {"level": "WARNING"},
    },
}
