#!/usr/bin/env bash
# Command 1: set up and serve the demo portal on http://127.0.0.1:8000
# (SQLite file in var/, Celery tasks run in-process, e-mail printed to the console).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
export DJANGO_SETTINGS_MODULE=portal.settings.local
.venv/bin/python manage.py migrate --no-input
.venv/bin/python manage.py load_demo
address="${PORT:-127.0.0.1:8000}"
echo "Serving vmcensus on http://${address} (Ctrl-C to stop)"
exec .venv/bin/python manage.py runserver "$address"
