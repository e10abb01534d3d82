"""PIN prompts. The PIN guards enrollment, the people manager, the log, the settings and leaving kiosk mode."""

from __future__ import annotations

from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QMessageBox, QVBoxLayout

from facegate.admin import MIN_PIN_LENGTH, AdminPin
from facegate.errors import FaceGateError
from facegate.ui.modal import quiet_action_buttons

# Room a window manager's title bar takes besides the title: the window's icon and its close, maximise and minimise
# buttons (about 30 px each on common desktops), with margins.
TITLE_BAR_EXTRA = 160
MIN_WIDTH = 340


class PinDialog(QDialog):
    def __init__(self, parent, title: str, prompt: str, confirm: bool = False):
        super().__init__(parent)
        self.setWindowTitle(title)
        # A small dialog is as wide as its prompt: the title bar cut "Set the administrator PIN" short. The title
        # bar's font is the desktop's; the application's, in bold, stands in for it.
        title_font = self.font()
        title_font.setBold(True)
        self.setMinimumWidth(max(MIN_WIDTH, QFontMetrics(title_font).horizontalAdvance(title) + TITLE_BAR_EXTRA))
        layout = QVBoxLayout(self)
        self.prompt = QLabel(prompt)
        self.prompt.setWordWrap(True)
        layout.addWidget(self.prompt)
        form = QFormLayout()
        self.pin = QLineEdit()
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setPlaceholderText("digits only")
        form.addRow("PIN:", self.pin)
        self.repeat: QLineEdit | None = None
        if confirm:
            self.repeat = QLineEdit()
            self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
            form.addRow("Repeat PIN:", self.repeat)
        layout.addLayout(form)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #c62828")
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        quiet_action_buttons(self)


def ask_pin(parent, admin: AdminPin) -> bool:
    """True when the right PIN was typed. Wrong PINs are refused with a growing delay (see AdminPin)."""
    dialog = PinDialog(parent, "Administrator PIN", "Enter the administrator PIN.")
    dialog.setObjectName("pin_dialog")
    try:
        while dialog.exec() == QDialog.DialogCode.Accepted:
            result = admin.check(dialog.pin.text())
            if result.ok:
                return True
            dialog.error.setText(result.message)
            dialog.pin.clear()
        return False
    finally:
        dialog.deleteLater()  # parented to the window: it would otherwise live as long as the window


def set_pin(parent, admin: AdminPin) -> bool:
    dialog = PinDialog(parent, "Set the administrator PIN",
                       f"Choose a PIN of at least {MIN_PIN_LENGTH} digits. It protects enrollment, the people list, "
                       "the access log, the settings and leaving kiosk mode.", confirm=True)
    dialog.setObjectName("set_pin_dialog")
    assert dialog.repeat is not None  # confirm=True
    try:
        while dialog.exec() == QDialog.DialogCode.Accepted:
            if dialog.pin.text() != dialog.repeat.text():
                dialog.error.setText("The two PINs differ.")
                continue
            try:
                admin.set_pin(dialog.pin.text())
            except FaceGateError as exc:
                dialog.error.setText(str(exc))
                continue
            QMessageBox.information(parent, "FaceGate", "The administrator PIN is set.")
            return True
        return False
    finally:
        dialog.deleteLater()
