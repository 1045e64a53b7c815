#!/usr/bin/env bash
# Command 2: set up the same environment and run the whole test suite.
# DATABASE_URL and CELERY_BROKER_URL, when set, point the tests at PostgreSQL and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
