@echo off
rem Windows: double-click this file to install (first time) and start FaceGate.
cd /d "%~dp0\.."
if not exist .venv\Scripts\pythonw.exe (
  rem the first supported Python (3.10-3.13; pyproject.toml) that the py launcher knows
  for %%v in (3.12 3.13 3.11 3.10) do if not exist .venv\Scripts\python.exe py -%%v -m venv .venv >nul 2>&1
  if not exist .venv\Scripts\python.exe python -m venv .venv
  .venv\Scripts\python -m pip install --upgrade pip
  .venv\Scripts\python -m pip install -e .
)
start "" .venv\Scripts\pythonw.exe main.py
