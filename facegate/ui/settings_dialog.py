"""Settings, in plain words: which camera, how strict the recognition is, how a live person is told from a photo
(with what each mode stops and costs), what is said, where the files live.

OK checks every value and says what is wrong in the dialog; only then the new settings are saved and applied
(the camera restarts, the models stay loaded). Cancel changes nothing. Looking for cameras, listing the
voices and calibrating run on worker threads.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import math
import re
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from facegate.capture import SourceKind, parse_source
from facegate.config import CHOICES, RANGES, Settings, default_door, greeting_problem, setting
from facegate.errors import FaceGateError
from facegate.site.schema import driver_message, redact
from facegate.speech import render_greeting
from facegate.ui.host import DialogHost, host_widget
from facegate.ui.jobs import BackgroundJob
from facegate.ui.modal import SettingSpin, refit, run_modal

log = logging.getLogger(__name__)

# The threshold's allowed range comes from its declaration (facegate/config.py); the other numbers' ranges too
# (modal.SettingSpin).
THRESHOLD_MIN, THRESHOLD_MAX = RANGES["threshold"]
CAMERA_INDICES = range(5)  # cameras probed: 0-4
SCREEN_MARGIN = 80  # room left on the screen above and below the dialog (the title bar, a panel)
MIN_SCROLL_HEIGHT = 240
PREVIEW_NAME = "Ada Lovelace"
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mkv *.mov *.webm);;All files (*)"
# Pseudo-values of the camera list's last two entries: choosing them asks for the file or the URL.
CHOOSE_FILE = "\0file"
CHOOSE_URL = "\0url"
_URL_PASSWORD = re.compile(r"(://[^:/@]+:)[^@/]+@")

# The `liveness` setting's modes as offered, with what each stops and what it costs a person at the door, from the
# README's measured figures (Liveness: what a webcam can and cannot stop). Off and passive are shown as warnings.
LIVENESS_MODES: dict[str, tuple[str, str, bool]] = {
    "adaptive": ("Adaptive (recommended)",
                 "Most people are let in within a second and asked nothing; only when the camera is unsure are "
                 "they asked to open their mouth or turn their head. Stops printed photos and phone replays; not a "
                 "half mask or a 3D mask.", True),
    "challenge": ("Requests for everyone (challenge)",
                  "Everyone is asked to open their mouth and turn or nod: about 2.5 s or more at the door, and "
                  "talking or smiling may mean trying again. Stops printed photos; not a 3D puppet that answers the "
                  "requests, nor a half mask.", True),
    "passive": ("Blink and movement (passive, not recommended)",
                "Waits for a natural blink, asking nothing: it turns most real people away after up to 10 s (a "
                "blink was counted for none of 19 people in tests). Stops only a photo held still.", False),
    "off": ("Off (recognition alone)",
            "The fastest (about 0.3 s), and it stops nothing: a photo or a phone showing an enrolled person's face "
            "opens the door.", False),
}


def threshold_explanation(value: float) -> tuple[str, bool]:
    """What the threshold means for the people at the door, and whether it is allowed."""
    value = round(value, 2)
    if value > THRESHOLD_MAX:
        return (f"{value:.2f} is not allowed: above {THRESHOLD_MAX:.2f} strangers who look a bit like an enrolled "
                f"person would be let in. Choose {THRESHOLD_MAX:.2f} or lower."), False
    if value < THRESHOLD_MIN:
        return (f"{value:.2f} is not allowed: below {THRESHOLD_MIN:.2f} even enrolled people would rarely be "
                f"recognised. Choose {THRESHOLD_MIN:.2f} or higher."), False
    if value < 0.40:
        return (f"{value:.2f}: very strict — strangers are kept out, but enrolled people may often need several "
                "looks at the camera, or more photos.", True)
    if value <= 0.46:
        return (f"{value:.2f}: stricter — strangers are very unlikely to be let in; enrolled people may need a "
                "second look at the camera."), True
    if value <= 0.52:
        return (f"{value:.2f}: balanced — the recommended setting for most doors: strangers are rarely let in, "
                "enrolled people are recognised in a moment."), True
    return f"{value:.2f}: looser — faster recognition, more risk of letting in a look-alike.", True


def describe_source(value: str) -> str:
    """A camera source as a receptionist would name it."""
    value = str(value).strip()
    try:
        spec = parse_source(value)
    except FaceGateError:
        return f"Not found: {value}"
    if isinstance(spec.target, int):  # a camera number
        return f"Camera {spec.target + 1}"
    if spec.kind is SourceKind.URL:
        return "Network camera: " + _URL_PASSWORD.sub(r"\1***@", value)  # the password stays off screen
    if spec.kind is SourceKind.FOLDER:
        return f"Folder of photos: {Path(spec.target).name}"
    return f"Video file: {Path(spec.target).name}"


def find_cameras(indices=CAMERA_INDICES) -> list[int]:
    """Camera numbers that open. Each one is opened and released at once; slow on some systems: call it off
    the UI thread. A camera already in use by the kiosk may not open here (it is listed anyway)."""
    found = []
    for index in indices:
        capture = cv2.VideoCapture(index)
        try:
            if capture.isOpened():
                found.append(index)
        finally:
            capture.release()
    return found


def calibration_module() -> ModuleType | None:
    """facegate.calibration, when it is there and offers what the Calibrate button needs; else None."""
    if importlib.util.find_spec("facegate.calibration") is None:
        return None
    try:
        module = importlib.import_module("facegate.calibration")
    except Exception:  # noqa: BLE001 - a broken optional module hides the button, it does not break Settings
        log.exception("facegate.calibration cannot be loaded; no Calibrate button")
        return None
    needed = ("gallery_embeddings", "compute_scores", "recommend", "summary_lines")
    return module if all(callable(getattr(module, name, None)) for name in needed) else None


class SettingsDialog(QDialog):
    def __init__(self, window: DialogHost):
        super().__init__(host_widget(window))
        self.main_window: DialogHost = window  # not self.window: that is QWidget.window()
        self.original = window.settings
        self.setWindowTitle("Settings")
        self.setObjectName("settings_dialog")
        settings = self.original
        self._sources: list[tuple[str, str]] = []  # (label, value) behind each camera-list entry
        self._source_index = 0
        self._camera_worker = BackgroundJob("camera-probe", self)
        self._camera_worker.done.connect(self._cameras_found)
        self._voice_worker = BackgroundJob("voice-list", self)
        self._voice_worker.done.connect(self._voices_found)
        self._calibration_worker = BackgroundJob("calibration", self)
        self._calibration_worker.done.connect(self._calibrated)
        self.looking_for_cameras = True
        self.loading_voices = True

        # --- camera
        self.source_combo = QComboBox()
        self.source_combo.setObjectName("source_combo")
        self.source_combo.setMinimumContentsLength(28)
        self.source_status = QLabel("Looking for cameras...")
        self.source_status.setWordWrap(True)
        self._add_source(settings.source)
        self._sources += [("Video file...", CHOOSE_FILE), ("Network camera (URL)...", CHOOSE_URL)]
        self._refill_sources(settings.source)
        self.source_combo.currentIndexChanged.connect(self._source_chosen)

        # --- recognition
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setObjectName("threshold_spin")
        self.threshold_spin.setRange(0.0, 1.0)  # wide, so that a value out of the safe range is explained
        self.threshold_spin.setDecimals(2)
        self.threshold_spin.setSingleStep(0.01)
        self.threshold_spin.setValue(settings.threshold)
        self.threshold_spin.setToolTip(f"{setting('threshold').help}: {THRESHOLD_MIN:.2f}-{THRESHOLD_MAX:.2f}, "
                                       f"{setting('threshold').advice}")
        self.threshold_explanation = QLabel()
        self.threshold_explanation.setObjectName("threshold_explanation")
        self.threshold_explanation.setWordWrap(True)
        self.threshold_spin.valueChanged.connect(self._explain_threshold)
        self._explain_threshold()
        self._calibration = calibration_module()
        self.calibrate_button: QPushButton | None = None
        if self._calibration is not None:
            self.calibrate_button = QPushButton("Calibrate...")
            self.calibrate_button.setObjectName("calibrate_button")
            self.calibrate_button.setToolTip("Measure on the enrolled people's photos which setting keeps "
                                             "strangers out, and suggest it")
            self.calibrate_button.clicked.connect(self.calibrate)
            self.calibrate_button.setEnabled(window.gallery is not None)

        self.mirror_check = QCheckBox("Show the camera like a mirror")
        self.mirror_check.setObjectName("mirror_check")
        self.mirror_check.setChecked(settings.mirror_preview)
        self.mirror_check.setToolTip(setting("mirror_preview").help)

        self.learn_check = QCheckBox("Learn from visits")
        self.learn_check.setObjectName("learn_check")
        self.learn_check.setChecked(settings.learn_from_visits)
        self.learn_check.setToolTip(f"{setting('learn_from_visits').help} (at most 3 each, one an hour; see People "
                                    "to forget them). Helps people enrolled from other photos.")

        self.liveness_combo = QComboBox()
        self.liveness_combo.setObjectName("liveness_combo")
        self.liveness_combo.setToolTip(setting("liveness").help)
        for mode in CHOICES["liveness"]:
            self.liveness_combo.addItem(LIVENESS_MODES.get(mode, (mode, "", True))[0], mode)
        self.liveness_combo.setCurrentIndex(max(0, self.liveness_combo.findData(settings.liveness)))
        self.liveness_explanation = QLabel()
        self.liveness_explanation.setObjectName("liveness_explanation")
        self.liveness_explanation.setWordWrap(True)
        self.liveness_combo.currentIndexChanged.connect(self._explain_liveness)
        self._explain_liveness()

        # --- greeting
        self.greeting_edit = QLineEdit(settings.greeting_template)
        self.greeting_edit.setObjectName("greeting_edit")
        self.greeting_preview = QLabel()
        self.greeting_preview.setObjectName("greeting_preview")
        self.greeting_preview.setWordWrap(True)
        self.greeting_edit.textChanged.connect(self._preview_greeting)
        self._preview_greeting()
        self.cooldown_spin = SettingSpin("greeting_cooldown_s", settings.greeting_cooldown_s,
                                         object_name="cooldown_spin", suffix=" minutes", per=60.0)
        self.speech_check = QCheckBox("Say the greeting aloud")
        self.speech_check.setObjectName("speech_check")
        self.speech_check.setChecked(settings.speech)
        self.greeter_check = QCheckBox("Greeting only: this kiosk opens no door")
        self.greeter_check.setObjectName("greeter_check")
        self.greeter_check.setChecked(settings.greeter)
        self.greeter_check.setToolTip(setting("greeter").help)
        self.voice_combo = QComboBox()
        self.voice_combo.setObjectName("voice_combo")
        self._voices: list[str] = [""]
        self.voice_combo.addItem("Default voice")
        if settings.voice:
            self._voices.append(settings.voice)
            self.voice_combo.addItem(settings.voice)
            self.voice_combo.setCurrentIndex(1)
        self.voice_status = QLabel("Looking for voices...")
        self.speech_check.toggled.connect(self.voice_combo.setEnabled)
        self.voice_combo.setEnabled(settings.speech)

        # --- storage
        self.gallery_edit, gallery_row = self._folder_row(settings.gallery, Settings(gallery="").gallery_path(),
                                                          "Folder of enrolled people")
        self.gallery_edit.setObjectName("gallery_edit")
        self.log_edit, log_row = self._folder_row(settings.log_dir, Settings(log_dir="").log_path(),
                                                  "Folder of the access log")
        self.log_edit.setObjectName("log_edit")

        # --- door and building actions: their own dialog (facegate/ui/actions_dialog.py)
        from facegate.ui.actions_dialog import ACTION_FIELDS

        self.action_settings = {name: getattr(settings, name) for name in ACTION_FIELDS}
        self.actions_button = QPushButton("Door and building...")
        self.actions_button.setObjectName("actions_button")
        self.actions_button.setToolTip("Open the door on a grant; tell Home Assistant (MQTT) or a web service")
        self.actions_button.clicked.connect(self.edit_actions)
        # --- a site with several doors (facegate/site/): the password is never shown, only kept
        self.site_edit = QLineEdit(redact(settings.database_url))
        self.site_edit.setObjectName("site_edit")
        self.site_edit.setPlaceholderText("empty: this kiosk alone; postgresql://user@host:5432/db?sslmode=require")
        self.site_edit.setToolTip("The PostgreSQL server of a site with several doors (README, Several doors). A "
                                  "password shown as *** is kept as it is; better keep it in ~/.pgpass.")
        # How long an offline door trusts its copy of the people, and when another door's silence is an alert
        # (README, Several doors): shown in minutes and seconds, stored in seconds.
        self.offline_grant_spin = SettingSpin("site_offline_grant_s", settings.site_offline_grant_s,
                                              object_name="offline_grant_spin", suffix=" minutes", per=60.0)
        self.door_silent_spin = SettingSpin("door_silent_after_s", settings.door_silent_after_s,
                                            object_name="door_silent_spin", suffix=" s", decimals=0)
        self.door_edit = QLineEdit(settings.door_name)
        self.door_edit.setObjectName("door_edit")
        self.door_edit.setPlaceholderText(default_door())

        self.error_label = QLabel("")
        self.error_label.setObjectName("error_label")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c62828")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

        # The groups scroll when the screen is too short for them all (a 768-line laptop: the dialog is ~920 px
        # tall); the door button, the errors and OK / Cancel stay in view below them.
        outer = QVBoxLayout(self)
        self.setMinimumWidth(600)
        self.groups = QWidget()
        layout = self._groups_layout = QVBoxLayout(self.groups)
        layout.setContentsMargins(0, 0, 0, 0)
        self.groups_scroll = QScrollArea()
        self.groups_scroll.setWidgetResizable(True)
        self.groups_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.groups_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.groups_scroll.setWidget(self.groups)
        outer.addWidget(self.groups_scroll, 1)
        camera = QGroupBox("Camera")
        form = QFormLayout(camera)
        form.addRow("Picture from:", self.source_combo)
        form.addRow("", self.source_status)
        form.addRow("", self.mirror_check)
        layout.addWidget(camera)
        recognition = QGroupBox("Recognition")
        form = QFormLayout(recognition)
        row = QHBoxLayout()
        row.addWidget(self.threshold_spin)
        if self.calibrate_button is not None:
            row.addWidget(self.calibrate_button)
        row.addStretch()
        form.addRow("Strictness (distance):", row)
        form.addRow("", self.threshold_explanation)
        form.addRow("", self.learn_check)
        form.addRow("Live person check:", self.liveness_combo)
        form.addRow("", self.liveness_explanation)
        layout.addWidget(recognition)
        greeting = QGroupBox("Greeting")
        form = QFormLayout(greeting)
        form.addRow("Greeting:", self.greeting_edit)
        form.addRow("", self.greeting_preview)
        form.addRow("Greet again after:", self.cooldown_spin)
        form.addRow("", self.speech_check)
        form.addRow("", self.greeter_check)
        form.addRow("Voice:", self.voice_combo)
        form.addRow("", self.voice_status)
        layout.addWidget(greeting)
        storage = QGroupBox("Where the files live")
        form = QFormLayout(storage)
        form.addRow("Enrolled people:", gallery_row)
        form.addRow("Access log:", log_row)
        layout.addWidget(storage)
        site = QGroupBox("Several doors")
        form = QFormLayout(site)
        form.addRow("Site server:", self.site_edit)
        form.addRow("This door:", self.door_edit)
        form.addRow("Offline, grant for:", self.offline_grant_spin)
        form.addRow("Alert on a door silent for:", self.door_silent_spin)
        layout.addWidget(site)
        layout.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.actions_button)
        row.addStretch()
        outer.addLayout(row)
        outer.addWidget(self.error_label)
        outer.addWidget(self.buttons)

        self._camera_worker.run(find_cameras)
        from facegate.speech import SpeechWorker

        self._voice_worker.run(SpeechWorker.voices)

    def _refit(self) -> None:
        """Show every group without scrolling where the screen allows (explanations that got longer wrap onto more
        lines), else as many as fit: the rest scrolls."""
        if not hasattr(self, "groups_scroll"):
            return  # an explanation set while the dialog is being built: fitted once it is shown
        self.groups.adjustSize()
        needed = self._groups_layout.totalHeightForWidth(self.groups_scroll.viewport().width() or self.width())
        screen = self.screen().availableGeometry().height() if self.screen() is not None else 0
        room = screen - (self.height() - self.groups_scroll.height()) - SCREEN_MARGIN if screen else needed
        self.groups_scroll.setMinimumHeight(max(MIN_SCROLL_HEIGHT, min(needed, room)))
        refit(self)
        QTimer.singleShot(0, self, self._keep_on_screen)

    def _keep_on_screen(self) -> None:
        """Move up so that OK / Cancel are on the screen (placed over the window, the dialog may reach below it)."""
        screen = self.screen()
        if screen is None:
            return
        below = self.frameGeometry().bottom() - screen.availableGeometry().bottom()
        if below > 0:
            self.move(self.x(), max(screen.availableGeometry().top(), self.y() - below))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._refit()

    # ------------------------------------------------------------------ camera
    def _add_source(self, value: str) -> None:
        """Add a source to the list: cameras first by number, then files and URLs, then the two choices."""
        value = str(value).strip()
        if not value or any(existing == value for _, existing in self._sources):
            return
        real = [entry for entry in self._sources if not entry[1].startswith("\0")]
        choices = [entry for entry in self._sources if entry[1].startswith("\0")]
        real.append((describe_source(value), value))
        real.sort(key=lambda entry: (0, int(entry[1])) if entry[1].isdigit() else (1, 0))  # stable for the rest
        self._sources = real + choices

    def _refill_sources(self, selected: str) -> None:
        self.source_combo.blockSignals(True)
        self.source_combo.clear()
        for label, value in self._sources:
            self.source_combo.addItem(label)
            if not value.startswith("\0"):
                self.source_combo.setItemData(self.source_combo.count() - 1, value, Qt.ItemDataRole.ToolTipRole)
        index = next((i for i, (_, value) in enumerate(self._sources) if value == selected), 0)
        self.source_combo.setCurrentIndex(index)
        self._source_index = index
        self.source_combo.blockSignals(False)

    def source_value(self) -> str:
        return self._sources[self.source_combo.currentIndex()][1]

    def set_source(self, value: str) -> None:
        """Add `value` (camera number, video file, URL, folder) to the list if needed, and select it."""
        self._add_source(value)
        self._refill_sources(str(value).strip())

    def _source_chosen(self, index: int) -> None:
        value = self._sources[index][1]
        if value == CHOOSE_FILE:
            chosen = self.choose_video_file()
        elif value == CHOOSE_URL:
            chosen = self.ask_url()
        else:
            self._source_index = index
            return
        if chosen:
            self.set_source(chosen)
        else:  # cancelled: back to what was chosen before
            self._refill_sources(self._sources[self._source_index][1])

    def choose_video_file(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a video file", str(Path.home()), VIDEO_FILTER)
        return path or None

    def ask_url(self) -> str | None:
        dialog = QInputDialog(self)
        dialog.setObjectName("url_input")
        dialog.setWindowTitle("Network camera")
        dialog.setLabelText("The camera's address, as its manual gives it (starts with rtsp:// or http://):")
        dialog.setTextValue("rtsp://")
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        dialog.deleteLater()
        url = dialog.textValue().strip()
        if not accepted:
            return None
        if "://" not in url or url.endswith("://"):
            self.error_label.setText(f"{url or 'The address'} is not a camera address: it should start with "
                                     "rtsp:// or http:// and go on with the camera's name or number.")
            return None
        return url

    def _cameras_found(self, outcome) -> None:
        self.looking_for_cameras = False
        if isinstance(outcome, FaceGateError):
            self.source_status.setText(f"Could not look for cameras: {outcome}")
            return
        current = self.source_value()
        for index in outcome:
            self._add_source(str(index))
        self._refill_sources(current)
        if outcome:
            self.source_status.setText(f"{len(outcome)} camera{'s' if len(outcome) > 1 else ''} found.")
        else:
            self.source_status.setText("No camera found on this computer (one in use by the kiosk may not show). "
                                       "You can choose a video file or a network camera.")
        self._refit()

    # ------------------------------------------------------------------ recognition
    def _explain_threshold(self) -> None:
        text, allowed = threshold_explanation(self.threshold_spin.value())
        self.threshold_explanation.setText(text)
        self.threshold_explanation.setStyleSheet("" if allowed else "color: #c62828")
        self._refit()

    def liveness_mode(self) -> str:
        """The `liveness` setting's word for the mode chosen."""
        return str(self.liveness_combo.currentData())

    def _explain_liveness(self) -> None:
        """What the chosen mode stops and what it costs a person at the door; off and passive in red."""
        _, text, advisable = LIVENESS_MODES.get(self.liveness_mode(), ("", "", True))
        self.liveness_explanation.setText(text)
        self.liveness_explanation.setStyleSheet("" if advisable else "color: #c62828")
        self._refit()

    def calibrate(self) -> None:
        gallery, calibration = self.main_window.gallery, self._calibration
        assert calibration is not None  # the Calibrate button exists only with the module
        if gallery is None:
            self.error_label.setText("Calibration needs the recognition model; wait until it has loaded.")
            return
        assert self.calibrate_button is not None  # the button that calls this exists
        self.calibrate_button.setEnabled(False)
        self.threshold_explanation.setText("Measuring on the enrolled people's photos...")

        def job() -> tuple[Any, str]:
            report = calibration.recommend(calibration.compute_scores(calibration.gallery_embeddings(gallery)),
                                           default_threshold=Settings().threshold)
            report.gallery = str(gallery.folder)
            return report, "\n".join(calibration.summary_lines(report))

        self._calibration_worker.run(job)

    def _calibrated(self, outcome) -> None:
        assert self.calibrate_button is not None  # its job is done
        self.calibrate_button.setEnabled(True)
        self._explain_threshold()
        if isinstance(outcome, FaceGateError):
            self.error_label.setText(f"Calibration failed: {outcome}")
            return
        report, details = outcome
        advice = list(getattr(report, "messages", []) or [])
        suggested = math.floor(report.threshold * 100 + 1e-9) / 100  # rounding down never lets more people in
        if suggested < THRESHOLD_MIN:
            advice.append(f"The measured value {suggested:.2f} is stricter than this kiosk allows; the strictest "
                          f"allowed setting, {THRESHOLD_MIN:.2f}, is suggested instead. Adding more photos of each "
                          "person usually helps.")
            suggested = THRESHOLD_MIN
        suggested = min(suggested, THRESHOLD_MAX)
        if self.offer_threshold("\n\n".join(advice), details, suggested if report.can_apply else None):
            self.threshold_spin.setValue(suggested)

    def offer_threshold(self, advice: str, details: str, suggested: float | None) -> bool:
        """Show the calibration result (the findings, the numbers under "Show Details"); True when the suggested
        value should be used. It is applied, like every other value here, only on OK."""
        box = QMessageBox(self)
        box.setObjectName("calibration_result")
        box.setWindowTitle("Calibration")
        box.setIcon(QMessageBox.Icon.Information)
        box.setText(f"Suggested strictness: {suggested:.2f}" if suggested is not None
                    else "Not enough photos to suggest a setting.")
        box.setInformativeText(advice)
        box.setDetailedText(details)
        use = box.addButton(f"Use {suggested:.2f}", QMessageBox.ButtonRole.AcceptRole) if suggested is not None \
            else None
        box.addButton(QMessageBox.StandardButton.Close)
        box.exec()
        box.deleteLater()
        return use is not None and box.clickedButton() is use

    # ------------------------------------------------------------------ greeting and voice
    def _preview_greeting(self) -> None:
        problem = greeting_problem(self.greeting_edit.text())
        if problem:
            self.greeting_preview.setText(problem)
            self.greeting_preview.setStyleSheet("color: #c62828")
        else:
            self.greeting_preview.setText(f"Preview: {render_greeting(self.greeting_edit.text(), PREVIEW_NAME)}")
            self.greeting_preview.setStyleSheet("")
        self._refit()

    def _voices_found(self, outcome) -> None:
        self.loading_voices = False
        if isinstance(outcome, FaceGateError) or not outcome:
            detail = f" ({outcome})" if isinstance(outcome, FaceGateError) else ""
            self.voice_status.setText(f"No other voices found on this computer{detail}; the default voice is used.")
            self._refit()
            return
        current = self._voices[self.voice_combo.currentIndex()]
        names = [name for _, name in outcome]
        voices = sorted(outcome, key=lambda v: v[1].casefold())
        self._voices = [""] + [voice_id for voice_id, _ in voices]
        self.voice_combo.clear()
        self.voice_combo.addItem("Default voice")
        for voice_id, name in voices:
            self.voice_combo.addItem(name if names.count(name) == 1 else f"{name} ({voice_id})")
            self.voice_combo.setItemData(self.voice_combo.count() - 1, voice_id, Qt.ItemDataRole.ToolTipRole)
        if current and current not in self._voices:  # set earlier, no longer installed: keep it visible
            self._voices.append(current)
            self.voice_combo.addItem(f"{current} (not installed)")
        self.voice_combo.setCurrentIndex(self._voices.index(current))
        self.voice_status.setText(f"{len(voices)} voices installed.")
        self._refit()

    # ------------------------------------------------------------------ folders
    def _folder_row(self, value: str, default: Path, title: str) -> tuple[QLineEdit, QWidget]:
        edit = QLineEdit(value)
        edit.setPlaceholderText(f"{default} (the usual place)")
        button = QPushButton("Choose...")
        button.clicked.connect(lambda: self._choose_folder(edit, title))
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(edit, 1)
        layout.addWidget(button)
        return edit, row

    def _choose_folder(self, edit: QLineEdit, title: str) -> None:
        start = edit.text().strip() or edit.placeholderText().rsplit(" (", 1)[0]
        folder = QFileDialog.getExistingDirectory(self, title, start)
        if folder:
            edit.setText(folder)

    @staticmethod
    def _folder_problem(text: str, what: str, must_exist: bool) -> str | None:
        if not text:
            return None
        path = Path(text).expanduser()
        if not path.is_absolute():
            return f"The {what} folder must be a full path (for example {Path.home() / 'FaceGate'}); use Choose..."
        if path.exists() and not path.is_dir():
            return f"The {what} folder {path} is a file, not a folder. Choose a folder."
        if must_exist and not path.is_dir():
            return (f"The {what} folder {path} does not exist. Choose an existing folder (Choose... can also "
                    "make a new one).")
        return None

    # ------------------------------------------------------------------ OK
    def edit_actions(self) -> None:
        """The door, MQTT and webhook settings, in their own dialog; kept here until OK saves them all."""
        from facegate.ui.actions_dialog import ActionsDialog

        dialog = ActionsDialog(self, replace(self.original, **self.action_settings))
        dialog.accepted.connect(lambda: self.action_settings.update(
            {name: getattr(dialog.chosen(), name) for name in self.action_settings}))
        run_modal(dialog)

    def problems(self) -> list[str]:
        """Everything that stops these settings from being used, in plain words."""
        found = []
        try:
            parse_source(self.source_value())
        except FaceGateError as exc:
            found.append(str(exc))
        text, allowed = threshold_explanation(self.threshold_spin.value())
        if not allowed:
            found.append(text)
        problem = greeting_problem(self.greeting_edit.text())
        if problem:
            found.append(problem)
        # A mistyped people folder would silently leave the kiosk with nobody enrolled; the log folder is made.
        for edit, what, must_exist in ((self.gallery_edit, "enrolled people", True),
                                       (self.log_edit, "access log", False)):
            problem = self._folder_problem(edit.text().strip(), what, must_exist)
            if problem:
                found.append(problem)
        problem = self._site_problem(self.site_url())
        if problem:
            found.append(problem)
        return found

    def site_url(self) -> str:
        """The site server's URL as chosen: the stored one (with its password) while its shown form is unchanged."""
        text = self.site_edit.text().strip()
        return self.original.database_url if text == redact(self.original.database_url) else text

    @staticmethod
    def _site_problem(url: str) -> str:
        if not url:
            return ""
        from psycopg.conninfo import conninfo_to_dict

        try:
            conninfo_to_dict(url)  # parsed only: connecting is the kiosk's job, off this thread
        except Exception as exc:  # noqa: BLE001 - psycopg's ProgrammingError: the text is not a conninfo
            return (f"Site server: {redact(url)!r} is not a PostgreSQL connection URL ({driver_message(exc, url)}); "
                    "write it as postgresql://user@host:5432/dbname?sslmode=require, or leave it empty.")
        return ""

    def new_settings(self) -> Settings:
        """The settings as chosen; FaceGateError (all the problems, one a line) when some value is refused."""
        found = self.problems()
        if found:
            raise FaceGateError("\n".join(found))
        old = self.original
        # A value shown rounded and left alone keeps its exact stored value (e.g. 90 s shows as 1.5 minutes).
        threshold = round(self.threshold_spin.value(), 2)
        if threshold == round(old.threshold, 2):
            threshold = old.threshold
        return replace(old, source=self.source_value(), threshold=threshold,
                       greeting_template=self.greeting_edit.text(),
                       greeting_cooldown_s=self.cooldown_spin.stored(old.greeting_cooldown_s),
                       speech=self.speech_check.isChecked(), voice=self._voices[self.voice_combo.currentIndex()],
                       learn_from_visits=self.learn_check.isChecked(), mirror_preview=self.mirror_check.isChecked(),
                       greeter=self.greeter_check.isChecked(),
                       liveness=self.liveness_mode(),
                       gallery=self.gallery_edit.text().strip(), log_dir=self.log_edit.text().strip(),
                       **self.action_settings,
                       database_url=self.site_url(), door_name=self.door_edit.text().strip(),
                       site_offline_grant_s=self.offline_grant_spin.stored(old.site_offline_grant_s),
                       door_silent_after_s=self.door_silent_spin.stored(old.door_silent_after_s))

    def save(self) -> None:
        """OK: check, save and apply; on any problem the dialog stays open and says what to fix."""
        try:
            new = self.new_settings()
        except FaceGateError as exc:
            self.error_label.setText(f"Not saved:\n{exc}")
            self._refit()
            return
        if new != self.original:
            try:
                self.main_window.apply_settings(new)
            except Exception as exc:  # noqa: BLE001 - e.g. the settings file cannot be written: say so
                log.exception("Settings not applied")
                self.error_label.setText(f"The settings could not be saved: {exc}")
                return
        self.accept()
