@echo off
rem Windows: double-click this file to install (first time) and start FaceGate.
cd /d "%~dp0\.."
if not exist .venv\Scripts\pythonw.exe (
  py -3 -m venv .venv || python -m venv .venv
  .venv\Scripts\python -m pip install --upgrade pip
  .venv\Scripts\python -m pip install -e .
)
start "" .venv\Scripts\pythonw.exe main.py
