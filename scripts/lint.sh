#!/usr/bin/env bash
# The code gate CI runs before the tests: ruff (pyflakes, pycodestyle errors, import order, bugbear, pyupgrade,
# simplify, blind except) and mypy (every function's body checked), configured in pyproject.toml. Installs the test tools first if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
.venv/bin/ruff check .
.venv/bin/mypy
