#!/bin/bash
# macOS: double-click this file in Finder to install (first time) and start FaceGate.
cd "$(dirname "$0")/.." || exit 1
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv && .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e .
fi
exec .venv/bin/python main.py
