"""Showing a dialog modally without keeping it."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QMessageBox


def run_modal(dialog: QDialog | QMessageBox) -> int:
    """Show a dialog modally, then let Qt delete it: parented to the window, it would otherwise live (with its
    widgets, timers and connections) as long as the window, one more each time it is opened."""
    try:
        return dialog.exec()
    finally:
        dialog.deleteLater()
