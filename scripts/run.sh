#!/usr/bin/env bash
# Quick start, command 1: install (if needed) and start FaceGate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/facegate "$@"
