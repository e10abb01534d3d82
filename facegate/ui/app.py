"""Start the desktop app: the window first (within a second or two), the models behind it."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import replace

from facegate.config import Settings


def run_app(settings: Settings, source: str | None = None, gallery: str | None = None,
            argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from facegate.errors import FaceGateError
    from facegate.ui.binding_check import check_qt_binding
    from facegate.ui.main_window import MainWindow

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        check_qt_binding()  # a leaking binding would abort the kiosk minutes from now: say so at once
    except FaceGateError as exc:
        _show_fatal(exc)
        return 2
    if source is not None:
        settings = replace(settings, source=source)
    if gallery is not None:
        settings = replace(settings, gallery=gallery)
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("FaceGate")
    window = MainWindow(settings)
    window.show()
    if not window.admin.is_set():
        from PySide6.QtCore import QTimer

        from facegate.ui.admin_dialogs import set_pin

        QTimer.singleShot(300, lambda: set_pin(window, window.admin))  # first run: set the admin PIN
    code = app.exec()
    window.shutdown()
    return code


def main() -> int:
    """GUI entry point (`facegate`, `facegate-gui`, main.py; no console window on Windows)."""
    from facegate.config import load_settings
    from facegate.errors import FaceGateError

    try:
        settings = load_settings()
    except FaceGateError as exc:
        _show_fatal(exc)
        return 2
    return run_app(settings)


def _show_fatal(exc: Exception) -> None:
    """Say why FaceGate cannot start: on stderr, and in a window too (perhaps there is no console to read)."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    print(f"error: {exc}", file=sys.stderr)
    if os.environ.get("QT_QPA_PLATFORM") != "offscreen":  # offscreen: nobody could see (or close) a box
        QApplication.instance() or QApplication(sys.argv)
        QMessageBox.critical(None, "FaceGate cannot start", str(exc))
