"""gunicorn's settings for the portal's web process; gunicorn reads this file from the working directory.

Every value comes from the environment, like the portal's own settings (``scripts/production.sh web``).
"""

import multiprocessing
import os

wsgi_app = "portal.wsgi:application"
# Behind a reverse proxy that terminates TLS and sets X-Forwarded-Proto: listen on loopback by default.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# gunicorn's own rule of thumb: two workers per core, plus one.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# Long enough for the slowest page (an export, a "Test connection" to a slow vCenter); a worker stuck past
# it is killed and replaced. Scans and PDFs never run in the web process: they are Celery tasks.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
graceful_timeout = 30
# One line per request on standard output, the error log on standard error: the service manager keeps both.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
# gunicorn's control socket sits at one path per user: two portals on a machine (or two test runs) would fight
# over it. The service manager starts, stops and reloads the web process instead.
control_socket_disable = True
