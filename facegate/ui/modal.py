"""What several dialogs share: showing one modally without keeping it, Enter that starts nothing unasked,
growing to fit word-wrapped text, and a number setting in a spin box."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QDoubleSpinBox, QMessageBox, QPushButton, QWidget

from facegate.config import RANGES, setting

# The roles of a button box's buttons that only close the dialog (OK, Cancel, Close, Yes, No): the only ones Enter
# may press.
CLOSING_ROLES = (QDialogButtonBox.ButtonRole.AcceptRole, QDialogButtonBox.ButtonRole.RejectRole,
                 QDialogButtonBox.ButtonRole.YesRole, QDialogButtonBox.ButtonRole.NoRole)


def closes_dialog(button: QPushButton) -> bool:
    """`button` is an OK/Cancel/Close-type button of a QDialogButtonBox."""
    box = button.parent()
    return isinstance(box, QDialogButtonBox) and box.buttonRole(button) in CLOSING_ROLES


def quiet_action_buttons(dialog: QWidget) -> None:
    """Enter never presses a button that starts something ("Add photos...", "Export CSV...", "Calibrate...").

    In a QDialog every QPushButton is "auto-default": when the dialog is shown the first one in the tab order
    becomes the default, and an Enter meant for the PIN prompt before it, or typed in a field, pressed "Add
    photos..." and opened a file chooser by itself (issue 29, item 8). Here only a button box's closing buttons
    stay auto-default; a button its dialog made default on purpose (setDefault) keeps that. A button still works
    with a click, Space, or its shortcut."""
    for button in dialog.findChildren(QPushButton):
        if not closes_dialog(button):
            button.setAutoDefault(False)


def run_modal(dialog: QDialog | QMessageBox) -> int:
    """Show a dialog modally, then let Qt delete it: parented to the window, it would otherwise live (with its
    widgets, timers and connections) as long as the window, one more each time it is opened. Its action buttons
    do not answer Enter (quiet_action_buttons)."""
    quiet_action_buttons(dialog)
    try:
        return dialog.exec()
    finally:
        dialog.deleteLater()


def fit_to_contents(dialog: QWidget) -> None:
    """Grow `dialog` to the height its word-wrapped labels need at its width, so that nothing is squashed or cut.

    A window's minimum size ignores height-for-width: a label that wraps onto more lines (an error, a longer
    explanation) is squeezed instead of the dialog growing. Call it after the text changed and Qt laid it out:
    `refit(dialog)`."""
    layout = dialog.layout()
    if layout is None:
        return
    layout.activate()
    needed = layout.totalHeightForWidth(dialog.width()) if layout.hasHeightForWidth() else -1
    needed = max(needed, layout.totalMinimumSize().height())
    if needed > dialog.height():
        dialog.resize(dialog.width(), needed)


def refit(dialog: QWidget) -> None:
    """fit_to_contents once Qt has laid out the new text."""
    QTimer.singleShot(0, dialog, lambda: fit_to_contents(dialog))


class SettingSpin(QDoubleSpinBox):
    """A number setting shown in its own unit, or `per` of them (minutes for a setting kept in seconds: per=60):
    the range and help come from the setting's declaration. `stored(old)` is the value to save: `old` exactly while
    the shown (rounded) value was left alone, e.g. 90 s shown as 1.5 minutes."""

    def __init__(self, name: str, value: float, *, object_name: str, suffix: str, decimals: int = 1,
                 per: float = 1.0):
        super().__init__()
        self.per = per
        self.setObjectName(object_name)
        low, high = RANGES[name]
        self.setRange(low / per, high / per)
        self.setDecimals(decimals)
        self.setSuffix(suffix)
        self.setValue(value / per)
        self.setToolTip(setting(name).help)
        self._initial = self.value()

    def stored(self, old: float) -> float:
        return old if self.value() == self._initial else round(self.value() * self.per, 1)
