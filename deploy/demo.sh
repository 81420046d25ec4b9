#!/usr/bin/env bash
# The demo on a fresh machine: set up, then show the whole flow with a throwaway mailbox.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/setup.sh
exec .venv/bin/intake demo "$@"
