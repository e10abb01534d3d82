"""The kiosk window: live video, a box per face, the welcome banner, and the receptionist's tools.

The UI thread only draws. Models load on a background thread (the window shows a loading line meanwhile);
frames are processed by the session's worker thread and arrive here as Qt signals.
"""

from __future__ import annotations

import importlib.resources
import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from facegate.actions.worker import ActionHealth, HealthState
from facegate.admin import AdminPin
from facegate.capture import SourceKind, SourceState, parse_source
from facegate.config import Settings, default_data_dir, save_settings
from facegate.errors import FaceGateError
from facegate.ui.bridge import SessionBridge
from facegate.ui.guard_alert import GuardAlert, GuardAlertPanel
from facegate.ui.modal import run_modal
from facegate.ui.video_view import VideoView

if TYPE_CHECKING:  # at run time these are imported where they are used, once the window is up
    from facegate.access_log import AccessLog
    from facegate.gallery import Gallery
    from facegate.kiosk import Kiosk
    from facegate.pipeline import Pipeline
    from facegate.session import KioskSession
    from facegate.site.admin import SiteLog
    from facegate.site.sync import SiteSync
    from facegate.speech import SpeechWorker
    from facegate.vision.engine import FaceEngine

log = logging.getLogger(__name__)

STALL_S = 3.0  # no new frame for this long: the picture on screen is marked old
LOADER_JOIN_SECONDS = 120.0  # loading takes about 5 s on 2 cores; closing waits for it rather than abort at exit
# Said on the picture while the gallery is empty, with the next step (the toolbar is hidden in kiosk mode).
NOBODY_ENROLLED = "Nobody is enrolled yet. Enroll a person: click Enroll person."
NOBODY_ENROLLED_KIOSK = ("Nobody is enrolled yet. To enroll a person, an administrator presses F11 to leave kiosk mode "
                         "(PIN), then clicks Enroll person.")


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings, settings_path: Path | None = None, realtime: bool = True,
                 load_models: bool = True):
        super().__init__()
        self.settings = settings
        self.settings_path = settings_path
        self.realtime = realtime
        self.engine: FaceEngine | None = None
        self.gallery: Gallery | None = None
        self.kiosk: Kiosk | None = None  # the running kiosk (facegate.kiosk), rebuilt when the settings change
        self.speech: SpeechWorker | None = None
        self.access_log: AccessLog | None = None
        self.site_log: SiteLog | None = None  # with database_url: every door's log there, for the Access log dialog
        self.admin = AdminPin(default_data_dir() / "admin.json")
        self.bridge = SessionBridge()
        self._frames_shown: list[float] = []
        self._admin_until = 0.0  # the admin stays unlocked briefly after a correct PIN
        self._speech_problem = ""  # why the speech worker stopped (empty: it works, or speech is off)

        self.setWindowTitle("FaceGate")
        icon = importlib.resources.files("facegate.assets") / "facegate.svg"  # in a wheel too
        if icon.is_file():
            self.setWindowIcon(QIcon(str(icon)))
        else:
            log.warning("The window icon is missing from the installed package (%s); reinstall FaceGate", icon)
        self.video = VideoView()
        self.video.set_message("Loading the recognition model...")
        # Repeated failed liveness checks: stays over the picture until acknowledged (kiosk mode hides the status
        # bar, and a banner fades in seconds).
        self.guard_alerts = GuardAlertPanel(self.video)
        self.guard_alerts.acknowledge_requested.connect(self.acknowledge_guard_alerts)
        self.guard_alerts.lift_requested.connect(self.lift_wait)
        self.choose_source_button = QPushButton("Choose a video file or URL...")
        self.choose_source_button.clicked.connect(self.choose_source)
        self.choose_source_button.hide()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.video)
        row = QHBoxLayout()
        row.addStretch()
        row.addWidget(self.choose_source_button)
        row.addStretch()
        layout.addLayout(row)
        self.setCentralWidget(central)
        self._build_toolbar()
        self._build_status_bar()
        self.resize(1024, 720)

        self.bridge.frame_ready.connect(self._on_frame)
        self.bridge.decision.connect(self._on_decision)
        self.bridge.source_status.connect(self._on_source_status)
        self.bridge.engine_ready.connect(self._on_engine_ready)
        self.bridge.failed.connect(self._on_failed)
        self.bridge.learned.connect(self._on_learned)
        self.bridge.gallery_changed.connect(self.gallery_changed)
        self.bridge.action_health.connect(self._on_action_health)
        self.bridge.tailgating.connect(self._on_tailgating)
        self.bridge.site_event.connect(self._on_site_event)
        self.bridge.light.connect(self.video.show_light)
        self.bridge.speech_failed.connect(self._on_speech_failed)
        self._fps_timer = QTimer(self)
        self._fps_timer.timeout.connect(self._update_fps)
        self._fps_timer.timeout.connect(self._update_site_status)
        self._fps_timer.start(1000)
        self._shut_down = False
        self._loader: threading.Thread | None = None
        if load_models:
            self._loader = threading.Thread(target=self._load_models, name="model loader", daemon=True)
            self._loader.start()

    # ------------------------------------------------------------------ layout
    def _build_toolbar(self) -> None:
        bar = QToolBar("Tools")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(bar)
        self.toolbar = bar
        self.enroll_action = self._action(bar, "Enroll person", self.open_enroll)
        self.people_action = self._action(bar, "People", self.open_people)
        self.visitor_action = self._action(bar, "Visitor...", self.open_visitor)
        self.visitor_action.setToolTip("Register a visitor: name, host, one photo; let in until the end of today")
        self.visitors_action = self._action(bar, "Visitors today", self.open_visitors_today)
        self.log_action = self._action(bar, "Access log", self.open_log)
        self.settings_action = self._action(bar, "Settings", self.open_settings)
        self.waits_action = self._action(bar, "Lift a wait...", self.choose_wait_to_lift)
        self.waits_action.setToolTip("Let a person whose liveness checks failed try again now (needs the PIN)")
        self.kiosk_action = self._action(bar, "Kiosk mode (F11)", self.toggle_kiosk)
        self.kiosk_action.setShortcut(QKeySequence(Qt.Key.Key_F11))
        self.kiosk_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.addAction(self.kiosk_action)  # F11 works while the toolbar is hidden
        # Escape in kiosk mode asks for the PIN and leaves it, as F11 does; outside kiosk mode it does nothing. Only
        # while the window itself is active: in a dialog, Escape still closes the dialog.
        self.leave_kiosk_action = QAction("Leave kiosk mode (Esc)", self)
        self.leave_kiosk_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.leave_kiosk_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.leave_kiosk_action.triggered.connect(self.leave_kiosk)
        self.addAction(self.leave_kiosk_action)
        for action in (self.enroll_action, self.people_action, self.visitor_action):
            action.setEnabled(False)  # until the model is loaded

    def _action(self, bar: QToolBar, text: str, slot) -> QAction:
        action = QAction(text, self)
        action.triggered.connect(slot)
        bar.addAction(action)
        return action

    def _build_status_bar(self) -> None:
        self.camera_label = QLabel("Camera: starting")
        self.fps_label = QLabel("-- fps")
        self.people_label = QLabel("Enrolled: --")
        self.model_label = QLabel("Model: loading")
        self.site_label = QLabel("Site server: connecting")  # only with database_url
        self.site_label.setObjectName("site_label")
        self.site_label.setVisible(bool(self.settings.database_url))
        # Door, MQTT, webhook: hidden until an action is configured; says which receiver is slow or down.
        self.actions_label = QLabel("")
        self.actions_label.setObjectName("actions_label")
        self.actions_label.hide()
        self.speech_label = QLabel("Speech: not working")  # shown once the speech worker fails
        self.speech_label.setObjectName("speech_label")
        self.speech_label.setStyleSheet("color: #c62828")
        self.speech_label.hide()
        self._action_health: dict[str, ActionHealth] = {}
        for label in (self.camera_label, self.fps_label, self.people_label, self.model_label, self.site_label,
                      self.actions_label, self.speech_label):
            label.setContentsMargins(10, 0, 10, 0)
            self.statusBar().addPermanentWidget(label)

    @property
    def session(self) -> KioskSession | None:
        return self.kiosk.session if self.kiosk is not None else None

    @property
    def pipeline(self) -> Pipeline | None:
        """The running kiosk's pipeline (its liveness waits are lifted here), None while none runs."""
        return self.session.pipeline if self.session is not None else None

    @property
    def site(self) -> SiteSync | None:
        """With database_url: the running kiosk's link to the site server (facegate/site/sync.py)."""
        return self.kiosk.site if self.kiosk is not None else None

    # ------------------------------------------------------------------ start-up
    def _load_models(self) -> None:
        try:
            from facegate.kiosk import open_engine, open_gallery

            engine = open_engine(self.settings)  # TensorFlow and the weights: the slow part
            gallery = open_gallery(self.settings, engine)
            gallery.refresh()
            self.gallery = gallery
            self.bridge.engine_ready.emit(engine)
        except Exception as exc:  # shown to the user, not swallowed
            log.exception("Model loading failed")
            self.bridge.failed.emit(f"Could not load the recognition model: {exc}")

    def _on_engine_ready(self, engine) -> None:
        if self._shut_down:  # closed while the models loaded: start nothing
            return
        self.engine = engine
        self.model_label.setText("Model: ready")
        self.enroll_action.setEnabled(True)
        self.people_action.setEnabled(True)
        self.visitor_action.setEnabled(True)
        self._update_people_count()
        self._open_sinks()
        self.start_session()

    def _open_sinks(self) -> None:
        from facegate.kiosk import apply_retention, open_access_log, open_speech

        if self.access_log is None:
            try:
                self.access_log = open_access_log(self.settings)
            except Exception as exc:
                log.exception("Access log unavailable")
                self.statusBar().showMessage(f"Access log unavailable: {exc}", 10000)
        else:
            # After a settings change: a new retention takes effect at once.
            try:
                apply_retention(self.access_log, self.settings)
            except (ValueError, FaceGateError) as exc:
                log.error("Snapshot retention not applied: %s", exc)
                self.statusBar().showMessage(f"Snapshot retention not applied: {exc}", 10000)
        if self.speech is None:
            self.speech = open_speech(self.settings)
            self._on_speech_failed(None, "")  # a new worker (or none): the old one's failure is gone
            if self.speech is not None:
                worker = self.speech
                worker.when_failed(lambda reason: self.bridge.speech_failed.emit(worker, reason))

    def _on_speech_failed(self, worker, reason: str) -> None:
        """The speech worker stopped (greetings go on, on screen only): said in the status bar, and on the picture
        in kiosk mode, where the status bar is hidden. An old worker's news is ignored."""
        if worker is not self.speech:
            return
        self._speech_problem = reason
        self.speech_label.setVisible(bool(reason))
        self.speech_label.setToolTip(reason)
        if reason:
            self.statusBar().showMessage(self._speech_line())
        self._update_notices()

    def _speech_line(self) -> str:
        return f"Speech is not working: {self._speech_problem.rstrip('.')}. Greetings are shown only."

    def _update_notices(self) -> None:
        """The lines kept on the picture: nobody enrolled yet (with the next step), speech not working (in kiosk
        mode only: otherwise the status bar says it)."""
        notices = []
        if self.gallery is not None and not self.gallery.people:
            notices.append(NOBODY_ENROLLED_KIOSK if self.toolbar.isHidden() else NOBODY_ENROLLED)
        if self._speech_problem and self.statusBar().isHidden():
            notices.append(self._speech_line())
        self.video.set_notices(notices)

    def _on_learned(self, outcome) -> None:
        if outcome.learned:
            self.statusBar().showMessage(f"Learned a new photo of {outcome.name} (see People).", 10000)
            self.gallery_changed()

    def _on_failed(self, message: str) -> None:
        self.model_label.setText("Model: failed")
        self.video.set_message(message)
        QMessageBox.critical(self, "FaceGate", message)

    # ------------------------------------------------------------------ the session
    def start_session(self, source: str | None = None) -> None:
        from facegate.kiosk import assemble_kiosk

        self.stop_session()
        text = source if source is not None else self.settings.source
        try:
            spec = parse_source(text)
        except FaceGateError as exc:
            self.camera_label.setText("Camera: none")
            self.video.set_message(str(exc))
            self.choose_source_button.show()
            return
        self.video.mirrored = self.settings.mirror_preview and spec.kind is SourceKind.CAMERA  # display only
        self.video.demonstration = self.settings.demonstration
        self._action_health = {}
        url = self.settings.database_url
        self.site_log = None
        if url:
            from facegate.site.admin import SiteLog

            self.site_log = SiteLog(url)
        assert self.engine is not None and self.gallery is not None  # started once the models are loaded
        try:
            self.kiosk = assemble_kiosk(self.settings, self.engine, self.gallery, self.bridge, source=spec,
                                        access_log=self.access_log, speech=self.speech, realtime=self.realtime,
                                        loop=spec.finite and self.realtime, screen_light=self.bridge.start_light)
        except FaceGateError as exc:  # a door, MQTT or webhook setting that cannot work, a site without its log
            log.error("The kiosk could not start: %s", exc)
            self.video.set_message(str(exc))
            return
        self._show_action_health()
        self.video.set_message("Starting the camera...")
        self.kiosk.start()

    def stop_session(self, final: bool = False) -> None:
        """Stop the running kiosk (its site link too; what it did not send goes at the next start, or now when
        `final`: the window is closing)."""
        if self.kiosk is not None:
            kiosk, self.kiosk = self.kiosk, None
            kiosk.stop(final)

    def _on_frame(self, result) -> None:
        if self.video.message and result.frame is not None:
            self.video.set_message("")
        self.video.show_result(result)
        self._frames_shown.append(time.monotonic())

    def _on_decision(self, decision, result) -> None:
        if decision.greet and decision.name:
            from facegate.speech import render_greeting

            greeting = render_greeting(self.settings.greeting_template, decision.name)
            if decision.details.get("visitor"):  # the receptionist sees whom to call
                greeting = f"{greeting} — visitor for {decision.details.get('host')}"
                self.statusBar().showMessage(f"Visitor {decision.name} arrived; host: {decision.details.get('host')}")
            self.video.show_banner(greeting)
        if decision.details.get("rule"):  # an access rule refused a recognised person: the reason, on screen
            self.video.show_banner(decision.reason, alert=True)
        if decision.details.get("tailgating"):
            text = f"Tailgating: {decision.name} was let in with someone not granted in view"
            self.video.show_banner(text, alert=True)
            self.statusBar().showMessage(f"{text} (see the access log)")
        if decision.details.get("guard_alert"):  # the panel over the picture, not a banner that fades
            text = f"Guard alert: {decision.details['failed_checks']} failed liveness checks as {decision.name}"
            self.statusBar().showMessage(f"{text} (see the access log)")  # stays until the next message
            self.guard_alerts.add(GuardAlert(decision.name or "someone", decision.details["failed_checks"],
                                             time.time()))

    def _on_tailgating(self, alert) -> None:
        text = f"Tailgating: someone came in view while the door was open for {alert.person or 'a grant'}"
        self.video.show_banner(text, alert=True)
        self.statusBar().showMessage(f"{text} (see the access log)")

    def _on_action_health(self, health) -> None:
        self._action_health[health.action] = health
        self._show_action_health()
        if health.state is not HealthState.OK:
            self.statusBar().showMessage(f"{health.action}: {health.message}", 10000)

    def _show_action_health(self) -> None:
        """'Door: ok  MQTT: down' in the status bar, for the actions of the running session."""
        actions = self.kiosk.actions if self.kiosk is not None else None
        if actions is None:
            self.actions_label.hide()
            return
        words = {"door": "Door", "mqtt": "MQTT", "webhook": "Webhook"}
        parts = []
        for action in actions.actions:
            health = self._action_health.get(action.name, action.health)
            parts.append(f"{words.get(action.name, action.name)}: {health.state.value}")
        self.actions_label.setText("  ".join(parts))
        self.actions_label.setToolTip("\n".join(
            f"{h.action}: {h.message}" for h in self._action_health.values() if h.message))
        self.actions_label.show()

    def _on_source_status(self, status) -> None:
        if status.state == SourceState.LIVE:
            finite = self.session is not None and self.session.capture.spec.finite
            self.camera_label.setText("Camera: file" if finite else "Camera: live")
            self.choose_source_button.hide()
        elif status.state == SourceState.LOST:
            kind = self.session.capture.spec.kind if self.session else SourceKind.CAMERA
            if kind is SourceKind.CAMERA and self.session and self.session.capture.delivered == 0:
                self.camera_label.setText("Camera: none found")
                self.video.set_message("No camera found. Connect one, or choose a video file or URL.")
                self.choose_source_button.show()
            else:
                self.camera_label.setText(f"Camera: lost, retrying in {status.retry_in or 0:.0f} s")
                self.video.mark_stale("Camera lost - reconnecting...")
        elif status.state == SourceState.ENDED:
            self.camera_label.setText("Camera: file ended")
            self.video.mark_stale("The video has ended")
        elif status.state == SourceState.FAILED:  # an empty or damaged file, a folder without images
            self.camera_label.setText("Camera: none")
            self.video.mark_stale(f"{status.message}. Choose another video file, folder or camera.")
            self.choose_source_button.show()

    def _update_fps(self) -> None:
        # A source that stops delivering without saying so (a frozen driver, a stalled stream): the picture on
        # screen is old, and its boxes must not stay.
        if (self.session is not None and not self.video.stale and self.video.last_frame_at
                and time.time() - self.video.last_frame_at > STALL_S):
            self.video.mark_stale(f"No picture from the camera for {STALL_S:.0f} s")
        now = time.monotonic()
        self._frames_shown = [t for t in self._frames_shown if now - t <= 2.0]
        self.fps_label.setText(f"{len(self._frames_shown) / 2.0:.0f} fps")

    def _on_site_event(self, kind: object, payload: dict) -> None:
        """The site link's news: a person copied or erased here changes the people count."""
        from facegate.site.sync import SiteEvent

        if kind is SiteEvent.REPLICA:
            self.gallery_changed()

    def _update_site_status(self) -> None:
        """ "Site server: connected" / "offline since 10:42, 17 events waiting" (database_url only)."""
        self.site_label.setVisible(bool(self.settings.database_url))
        if not self.settings.database_url:
            return
        if self.site is None:
            self.site_label.setText("Site server: not linked (the access log is not open)" if self.engine else
                                    "Site server: connecting")
            return
        status = self.site.status()
        self.site_label.setText(status.line())
        self.site_label.setToolTip(status.problem)
        self.site_label.setStyleSheet("" if status.connected and not status.problem else "color: #c62828")

    def _update_people_count(self) -> None:
        if self.gallery is not None:
            self.people_label.setText(f"Enrolled: {len(self.gallery.people)}")
        self._update_notices()

    def gallery_changed(self) -> None:
        """Called by the dialogs after they changed the gallery (it is live at once: no restart)."""
        self._update_people_count()

    # ------------------------------------------------------------------ admin-only tools
    def require_admin(self) -> bool:
        """Ask for the PIN (or to set one on first use). True when the admin is confirmed."""
        from facegate.ui.admin_dialogs import ask_pin, set_pin

        if not self.admin.is_set():
            return set_pin(self, self.admin)
        if time.monotonic() < self._admin_until:
            return True
        if ask_pin(self, self.admin):
            self._admin_until = time.monotonic() + 60.0
            return True
        return False

    def acknowledge_guard_alerts(self) -> None:
        """The guard has seen the alerts (PIN): the panel goes; the access log keeps the refused checks."""
        if not self.guard_alerts.alerts or not self.require_admin():
            return
        for alert in self.guard_alerts.clear():
            log.warning("Acknowledged by the administrator: %s", alert)
        self.statusBar().showMessage("Guard alert acknowledged (the refused checks are in the access log)", 10000)

    def lift_wait(self, person: str) -> bool:
        """Let `person` try again now: their failed checks are forgotten, so no wait and no longer challenge (PIN).
        Their guard alert, if any, is acknowledged with it."""
        pipeline = self.pipeline
        if pipeline is None or not self.require_admin():
            return False
        lifted = pipeline.lift_lockout(person)
        self.guard_alerts.remove(person)
        log.warning("The administrator lifted the liveness wait of %s", person)
        self.statusBar().showMessage(f"{person} may try again now" if lifted
                                     else f"{person} had no wait to lift", 10000)
        return lifted

    def choose_wait_to_lift(self) -> None:
        """The identities waiting after failed liveness checks, to let one try again now (PIN)."""
        waits = self.pipeline.lockouts() if self.pipeline is not None else []
        if not waits:
            QMessageBox.information(self, "Lift a wait", "Nobody is waiting after failed liveness checks.")
            return
        labels = [f"{name}: {failures} failed checks, {left:.0f} s left" for name, failures, left in waits]
        label, ok = QInputDialog.getItem(self, "Lift a wait", "Let this person try again now:", labels, 0, False)
        if ok:
            self.lift_wait(waits[labels.index(label)][0])

    def open_enroll(self) -> None:
        if self.engine is None or not self.require_admin():
            return
        from facegate.ui.enroll_dialog import EnrollDialog

        run_modal(EnrollDialog(self))

    def open_people(self) -> None:
        if self.gallery is None or not self.require_admin():
            return
        from facegate.ui.people_dialog import PeopleDialog

        run_modal(PeopleDialog(self))

    def open_visitor(self) -> None:
        if self.engine is None or not self.require_admin():
            return
        from facegate.ui.visitor_dialog import VisitorDialog

        run_modal(VisitorDialog(self))

    def open_visitors_today(self) -> None:
        if not self.require_admin():
            return
        from facegate.ui.visitor_dialog import VisitorsTodayDialog

        run_modal(VisitorsTodayDialog(self))

    def open_log(self) -> None:
        if not self.require_admin():
            return
        from facegate.ui.log_dialog import LogDialog

        run_modal(LogDialog(self))

    def open_settings(self) -> None:
        if not self.require_admin():
            return
        from facegate.ui.settings_dialog import SettingsDialog

        run_modal(SettingsDialog(self))

    def apply_settings(self, settings: Settings) -> None:
        """Save and apply new settings; the camera and the policy restart, the models stay loaded."""
        old = self.settings
        save_settings(settings, self.settings_path)  # first: a failed save leaves the old settings in force
        self.settings = settings
        if (settings.gallery_path(), settings.database_url) != (old.gallery_path(), old.database_url) \
                and self.engine is not None:
            from facegate.kiosk import open_gallery

            self.stop_session()  # the old gallery's session (and site link) end before the new gallery opens
            self.gallery = open_gallery(settings, self.engine)
            self.gallery.refresh()
            self._update_people_count()
        if self.gallery is not None:  # learned photos count only under the threshold in force (learning.py)
            self.gallery.threshold = settings.threshold
        if settings.log_path() != old.log_path() and self.access_log is not None:
            self.access_log.close()
            self.access_log = None
        if (settings.speech, settings.voice) != (old.speech, old.voice) and self.speech is not None:
            self.speech.close()
            self.speech = None
        if self.engine is not None:
            self._open_sinks()
            self.start_session()

    def choose_source(self) -> None:
        """A new camera, file or URL: a change of configuration, so the PIN first (and no file dialog, a way out
        of the kiosk, before it)."""
        if not self.require_admin():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Choose a video file", str(Path.home()),
                                              "Videos (*.mp4 *.avi *.mkv *.mov *.webm);;All files (*)")
        if not path:
            url, ok = QInputDialog.getText(self, "Camera URL", "Or type a camera URL (rtsp://... or http://...):")
            if not ok or not url.strip():
                return
            path = url.strip()
        self.apply_settings(replace(self.settings, source=path))

    # ------------------------------------------------------------------ kiosk mode
    def toggle_kiosk(self) -> None:
        if self.isFullScreen():
            if self.admin.is_set() and not self.require_admin():
                return
            self.toolbar.show()
            self.statusBar().show()
            self.showNormal()
        else:
            self.toolbar.hide()
            self.statusBar().hide()
            self.showFullScreen()
        self._update_notices()

    def leave_kiosk(self) -> None:
        """Escape: in kiosk mode, the PIN and back to the window; otherwise nothing."""
        if self.isFullScreen():
            self.toggle_kiosk()

    def closeEvent(self, event) -> None:
        if self.isFullScreen() and self.admin.is_set() and not self.require_admin():
            event.ignore()  # a visitor cannot close the kiosk
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        self._shut_down = True
        self.stop_session(final=True)
        if self._loader is not None and self._loader is not threading.current_thread():
            # A thread cut off inside TensorFlow's native code when the interpreter exits aborts the process.
            self._loader.join(LOADER_JOIN_SECONDS)
            if self._loader.is_alive():
                log.warning("The model loader is still running after %.0f s; leaving without it", LOADER_JOIN_SECONDS)
        if self.access_log is not None:
            self.access_log.close()
            self.access_log = None
        if self.speech is not None:
            self.speech.close()
            self.speech = None
