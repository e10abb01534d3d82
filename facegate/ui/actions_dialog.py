"""Settings > Door and building...: the door pulse, MQTT (Home Assistant) and the webhook (facegate/actions/)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
)

from facegate.config import RANGES, Settings, action_problems, setting

ACTION_FIELDS = ("door_command", "door_close_command", "door_serial", "door_open_s", "door_on_tailgating",
                 "mqtt_url", "mqtt_topic", "webhook_url", "webhook_secret")


class ActionsDialog(QDialog):
    """Edits the action settings of `settings`; `chosen()` returns them applied to a copy."""

    def __init__(self, parent, settings: Settings):
        super().__init__(parent)
        self.setWindowTitle("Door and building")
        self.setObjectName("actions_dialog")
        self.settings = settings
        self.edits: dict[str, QLineEdit] = {}
        for name in ("door_command", "door_close_command", "door_serial", "mqtt_url", "mqtt_topic",
                     "webhook_url", "webhook_secret"):
            edit = QLineEdit(getattr(settings, name))
            edit.setObjectName(f"{name}_edit")
            edit.setToolTip(setting(name).help)
            if name in ("mqtt_url", "webhook_secret"):  # may hold a password: never shown on the kiosk's screen
                edit.setEchoMode(QLineEdit.EchoMode.PasswordEchoOnEdit)
            self.edits[name] = edit
        self.edits["door_command"].setPlaceholderText("e.g. usbrelay-pulse 1 {seconds}")
        self.edits["door_serial"].setPlaceholderText("e.g. /dev/ttyUSB0 (used when there is no open command)")
        self.edits["mqtt_url"].setPlaceholderText("mqtt://homeassistant.local:1883")
        self.open_spin = QDoubleSpinBox()
        self.open_spin.setObjectName("door_open_spin")
        self.open_spin.setRange(*RANGES["door_open_s"])
        self.open_spin.setDecimals(1)
        self.open_spin.setSuffix(" s")
        self.open_spin.setValue(settings.door_open_s)
        self.open_spin.setToolTip(setting("door_open_s").help)
        self.tailgating_check = QCheckBox("Open even while someone not granted is in view")
        self.tailgating_check.setObjectName("door_on_tailgating_check")
        self.tailgating_check.setChecked(settings.door_on_tailgating)
        self.tailgating_check.setToolTip(setting("door_on_tailgating").help)
        self.error_label = QLabel("")
        self.error_label.setObjectName("actions_error_label")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c62828")

        layout = QVBoxLayout(self)
        door = QGroupBox("Door")
        form = QFormLayout(door)
        form.addRow("Open command:", self.edits["door_command"])
        form.addRow("Close command:", self.edits["door_close_command"])
        form.addRow("Or a USB relay:", self.edits["door_serial"])
        form.addRow("Open for:", self.open_spin)
        form.addRow("", self.tailgating_check)
        note = QLabel("The open command must return at once and close the door by itself after {seconds} s (a "
                      "relay's timed pulse), so that no crash can leave the door open.")
        note.setWordWrap(True)
        form.addRow("", note)
        layout.addWidget(door)
        mqtt = QGroupBox("MQTT / Home Assistant")
        form = QFormLayout(mqtt)
        form.addRow("Broker:", self.edits["mqtt_url"])
        form.addRow("Topic:", self.edits["mqtt_topic"])
        layout.addWidget(mqtt)
        hook = QGroupBox("Webhook")
        form = QFormLayout(hook)
        form.addRow("URL:", self.edits["webhook_url"])
        form.addRow("Signing key:", self.edits["webhook_secret"])
        layout.addWidget(hook)
        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(560)

    def chosen(self) -> Settings:
        values: dict[str, Any] = {name: edit.text().strip() if name != "webhook_secret" else edit.text()
                                  for name, edit in self.edits.items()}
        return replace(self.settings, door_open_s=round(self.open_spin.value(), 1),
                       door_on_tailgating=self.tailgating_check.isChecked(), **values)

    def _accept(self) -> None:
        problems = action_problems(self.chosen())
        if problems:
            self.error_label.setText("Not saved:\n" + "\n".join(problems))
            return
        self.accept()
