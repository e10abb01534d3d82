#!/usr/bin/env bash
# Quick start, command 2: install (if needed) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest "$@"
