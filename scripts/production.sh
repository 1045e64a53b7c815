#!/usr/bin/env bash
# The production processes of vmcensus, one per invocation, each run in the foreground under a service
# manager (systemd, a container, supervisord). Settings come from the environment or .env (see .env.production.example).
#
#   scripts/production.sh release          migrate, collect static files, check the deployment (each release)
#   scripts/production.sh web              gunicorn with gunicorn.conf.py (WEB_CONCURRENCY, GUNICORN_BIND ...)
#   scripts/production.sh worker QUEUES    a Celery worker for comma-separated queues, e.g. "scans"
#   scripts/production.sh beat             the one Celery beat (periodic scans, reminders); run exactly one
#
# Queues: default, scans, pdf, notifications, policies. Run at least one worker for each; give scans and pdf
# their own workers so a long scan never delays an e-mail.
set -euo pipefail
cd "$(dirname "$0")/.."
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-portal.settings.production}"
bin=""
[ -x .venv/bin/python ] && bin=".venv/bin/"

case "${1:-}" in
    release)
        "${bin}python" manage.py migrate --noinput
        "${bin}python" manage.py collectstatic --noinput -v0
        exec "${bin}python" manage.py check --deploy --fail-level WARNING
        ;;
    web)
        exec "${bin}gunicorn" --config gunicorn.conf.py
        ;;
    worker)
        queues="${2:?which queues? e.g. scans, or default,notifications}"
        # One process per CPU by default (CELERY_CONCURRENCY to change it); the node name tells workers apart.
        exec "${bin}celery" -A portal worker --queues "$queues" --hostname "${queues//,/-}@%h" \
            --concurrency "${CELERY_CONCURRENCY:-$(nproc)}" --loglevel "${LOG_LEVEL:-INFO}"
        ;;
    beat)
        mkdir -p var
        exec "${bin}celery" -A portal beat --schedule var/celerybeat-schedule --loglevel "${LOG_LEVEL:-INFO}"
        ;;
    *)
        sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
