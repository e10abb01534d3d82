"""Start the desktop app: the window first (within a second or two), the models behind it."""

from __future__ import annotations

import logging
import sys
from dataclasses import replace

from facegate.config import Settings


def run_app(settings: Settings, source: str | None = None, gallery: str | None = None,
            argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from facegate.ui.main_window import MainWindow

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
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
    """GUI-script entry point (no console window on Windows)."""
    from facegate.config import load_settings

    return run_app(load_settings())
