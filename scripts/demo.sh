#!/usr/bin/env bash
# Command 1: set up and serve the demo portal on http://127.0.0.1:8000, or on the port PORT names
# (PORT=8100, or an address and port: PORT=0.0.0.0:8100). SQLite file in var/, Celery tasks run in-process,
# e-mail printed to the console with links to the address it is served on (PORTAL_BASE_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
export DJANGO_SETTINGS_MODULE=portal.settings.local
if [ -z "${PORT:-}" ] && [ -f .env ]; then  # a PORT line of .env (see .env.example), unless the shell sets one
    PORT=$(sed -n 's/^PORT=//p' .env | tail -n 1)
fi
port="${PORT:-8000}"
case "$port" in
    *:*) address="$port" ;;
    *) address="127.0.0.1:$port" ;;
esac
export PORTAL_BASE_URL="${PORTAL_BASE_URL:-http://${address/0.0.0.0/127.0.0.1}}"
.venv/bin/python manage.py migrate --no-input
.venv/bin/python manage.py load_demo
echo "Serving vmcensus on http://${address} (Ctrl-C to stop)"
exec .venv/bin/python manage.py runserver "$address"
