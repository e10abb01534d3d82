#!/bin/bash
# macOS: double-click this file in Finder to install (first time) and start FaceGate.
cd "$(dirname "$0")/.." || exit 1
if [ ! -x .venv/bin/python ]; then
  # the first supported Python (3.10-3.13; pyproject.toml) found
  supported=""
  for candidate in python3.12 python3.13 python3.11 python3.10 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))'; then
      supported=$candidate
      break
    fi
  done
  if [ -z "$supported" ]; then
    echo "FaceGate needs Python 3.10-3.13: install one from python.org and start this again."; read -r; exit 1
  fi
  "$supported" -m venv .venv && .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e .
fi
exec .venv/bin/python main.py
