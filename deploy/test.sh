#!/usr/bin/env bash
# All checks and tests: lint, types, then the test suite against real Dovecot, a real
# SMTP server, SQLite and the PostgreSQL server at 127.0.0.1:5432.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/setup.sh --dev
.venv/bin/ruff check pipeline tests
.venv/bin/mypy --strict pipeline tests
.venv/bin/lint-imports
# Two workers per core (INTAKE_TEST_WORKERS overrides; 0 runs in this process): the stories
# mostly wait on Dovecot, SMTP and the databases, so more workers than cores pay off. A test
# file stays in one worker, so its module fixtures and servers are set up once, but for the
# tests that name their own xdist_group (the crash matrix's points: tests/conftest.py).
exec .venv/bin/pytest -n "${INTAKE_TEST_WORKERS:-$(( $(nproc) * 2 ))}" --dist loadgroup "$@"
