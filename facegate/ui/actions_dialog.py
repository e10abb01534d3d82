"""Settings > Door and building...: the door pulse, MQTT (Home Assistant) and the webhook (facegate/actions/).

The broker's address stays readable so that the host can be checked by eye; its password, which the `mqtt_url`
setting carries as mqtt://user:password@host, has a field of its own that shows dots, like any login form. A
password typed or pasted into the address moves into that field when the address is left.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
)

from facegate.config import Settings, action_problems, setting
from facegate.ui.modal import SettingSpin, refit

ACTION_FIELDS = ("door_command", "door_close_command", "door_serial", "door_open_s", "door_on_tailgating",
                 "mqtt_url", "mqtt_topic", "webhook_url", "webhook_secret")
# Each text setting's label on screen: the form shows it, and a problem names it instead of the setting's key.
LABELS = {"door_command": "Open command", "door_close_command": "Close command", "door_serial": "Or a USB relay",
          "mqtt_url": "Broker", "mqtt_topic": "Topic", "webhook_url": "Webhook URL", "webhook_secret": "Signing key"}
PASSWORD_LABEL = "Broker password"


def split_password(url: str) -> tuple[str, str]:
    """A URL without its password, and the password (decoded); the URL as it is when it holds none."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL at all: the check on OK says so
        return url, ""
    user_info, at, host = parts.netloc.rpartition("@")
    user, colon, password = user_info.partition(":")
    if not at or not colon:
        return url, ""
    return urlunsplit(parts._replace(netloc=f"{user}@{host}")), unquote(password)


def join_password(url: str, password: str) -> str:
    """`url` with `password` in it (percent-encoded), replacing any there; `url` itself when `password` is empty."""
    if not password:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    user_info, _, host = parts.netloc.rpartition("@")
    user = user_info.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


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
            self.edits[name] = edit
        # Secrets are never shown on the kiosk's screen once typed; the broker's host stays readable.
        self.edits["webhook_secret"].setEchoMode(QLineEdit.EchoMode.PasswordEchoOnEdit)
        broker, password = split_password(settings.mqtt_url)
        self.edits["mqtt_url"].setText(broker)
        self.mqtt_password_edit = QLineEdit(password)
        self.mqtt_password_edit.setObjectName("mqtt_password_edit")
        self.mqtt_password_edit.setEchoMode(QLineEdit.EchoMode.PasswordEchoOnEdit)
        self.mqtt_password_edit.setPlaceholderText("only if the broker asks for one (with user@ in the broker)")
        self.edits["mqtt_url"].editingFinished.connect(self._move_password)
        self.edits["door_command"].setPlaceholderText("e.g. usbrelay-pulse 1 {seconds}")
        self.edits["door_serial"].setPlaceholderText("e.g. /dev/ttyUSB0 (used when there is no open command)")
        self.edits["mqtt_url"].setPlaceholderText("mqtt://homeassistant.local:1883 or mqtt://user@host:1883")
        self.open_spin = SettingSpin("door_open_s", settings.door_open_s, object_name="door_open_spin", suffix=" s")
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
        for name in ("door_command", "door_close_command", "door_serial"):
            form.addRow(f"{LABELS[name]}:", self.edits[name])
        form.addRow("Open for:", self.open_spin)
        form.addRow("", self.tailgating_check)
        note = QLabel("The open command must return at once and close the door by itself after {seconds} s (a "
                      "relay's timed pulse), so that no crash can leave the door open.")
        note.setObjectName("door_note")
        note.setWordWrap(True)
        form.addRow("", note)
        layout.addWidget(door)
        mqtt = QGroupBox("MQTT / Home Assistant")
        form = QFormLayout(mqtt)
        form.addRow(f"{LABELS['mqtt_url']}:", self.edits["mqtt_url"])
        form.addRow(f"{PASSWORD_LABEL}:", self.mqtt_password_edit)
        form.addRow(f"{LABELS['mqtt_topic']}:", self.edits["mqtt_topic"])
        layout.addWidget(mqtt)
        hook = QGroupBox("Webhook")
        form = QFormLayout(hook)
        form.addRow(f"{LABELS['webhook_url']}:", self.edits["webhook_url"])
        form.addRow(f"{LABELS['webhook_secret']}:", self.edits["webhook_secret"])
        layout.addWidget(hook)
        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(560)

    def _move_password(self) -> None:
        """A password typed or pasted into the broker's address goes into its own field, out of sight."""
        broker, password = split_password(self.edits["mqtt_url"].text().strip())
        if password:
            self.mqtt_password_edit.setText(password)
            self.edits["mqtt_url"].setText(broker)

    def mqtt_url(self) -> str:
        """The `mqtt_url` setting: the broker's address with the password field's password in it (the stored text
        itself while neither was changed)."""
        broker, typed = split_password(self.edits["mqtt_url"].text().strip())
        password = self.mqtt_password_edit.text() or typed
        if split_password(self.settings.mqtt_url.strip()) == (broker, password):
            return self.settings.mqtt_url.strip()
        return join_password(broker, password)

    def chosen(self) -> Settings:
        values: dict[str, Any] = {name: edit.text().strip() if name != "webhook_secret" else edit.text()
                                  for name, edit in self.edits.items()}
        values["mqtt_url"] = self.mqtt_url()
        return replace(self.settings, door_open_s=round(self.open_spin.value(), 1),
                       door_on_tailgating=self.tailgating_check.isChecked(), **values)

    def problems(self) -> list[str]:
        """What stops these settings from working, each named by its label on screen."""
        problems = action_problems(self.chosen(), LABELS)
        broker = split_password(self.edits["mqtt_url"].text().strip())[0]
        try:
            user = urlsplit(broker).username
        except ValueError:  # not a URL: action_problems says so
            user = None
        if self.mqtt_password_edit.text() and not user:
            problems.append(f"{PASSWORD_LABEL}: a password needs the user's name in the broker's address, as "
                            "mqtt://USER@HOST:PORT")
        return problems

    def _accept(self) -> None:
        problems = self.problems()
        if problems:
            self.error_label.setText("Not saved:\n" + "\n".join(problems))
            refit(self)  # the dialog grows: the lines above the errors keep their height
            return
        self.accept()
