"""Enroll a person by snapshot: guided shots from the live picture (or photo files), a name, a duplicate check.

The dialog tells the person in front of the camera what to do until the picture is usable (one face, large,
sharp, lit, and turned as asked: one shot straight, one turned to each side, so that the enrolled photos cover
the head poses the kiosk will see). Encoding and saving run on a worker thread so the video keeps moving.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from facegate.errors import FaceGateError
from facegate.gallery import validate_name
from facegate.pipeline import face_crop
from facegate.policy import PolicySettings
from facegate.ui.host import DialogHost, host_widget
from facegate.ui.jobs import BackgroundJob
from facegate.ui.mixed_identity import ask_mixed_identity, mixed_identity_doubts
from facegate.ui.video_view import VideoView
from facegate.vision.detect import Face
from facegate.vision.engine import sharpness

if TYPE_CHECKING:
    from facegate.gallery import Gallery

SHOTS = ("Look straight at the camera", "Turn your head slightly to one side",
         "Now turn your head slightly to the other side")
# Enrollment wants a closer, clearer face than recognition does: these photos are the reference.
MIN_ENROLL_FACE = 90
MIN_BRIGHTNESS = 60.0
MAX_BRIGHTNESS = 215.0
MIN_ENROLL_SHARPNESS = 20.0
# Head turn = how far the nose base sits beside the midpoint of the eyes, in eye distances (image x; the sign
# says which side). On the test clip: about 0.05 looking straight, 0.15-0.25 for a slight turn, 0.4-0.6 near
# profile. Whose left is whose depends on whether the picture is mirrored, so the turned shots are only
# required to be on opposite sides of the straight one.
MAX_STRAIGHT_TURN = 0.12
MIN_TURN = 0.12  # a turned shot differs from the straight one by at least this
MAX_TURN = 0.5  # and is not near profile: the kiosk does not grant in profile either


def head_turn(landmarks: np.ndarray) -> float:
    """Signed head turn from dlib's 5 points (0 = straight at the camera)."""
    right_eye, left_eye = landmarks[:2].mean(0), landmarks[2:4].mean(0)
    eyes = (right_eye + left_eye) / 2
    return float((landmarks[4][0] - eyes[0]) / max(np.linalg.norm(right_eye - left_eye), 1e-6))


def pose_problem(turn: float, taken: list[float]) -> str | None:
    """What the person should do so that this shot has the pose the next step asks for; None when it has."""
    if not taken:
        return None if abs(turn) <= MAX_STRAIGHT_TURN else "Please look straight at the camera"
    change = turn - taken[0]
    if abs(turn) > MAX_TURN:
        return "Not so far: turn back a little towards the camera"
    if len(taken) == 1:
        return None if abs(change) >= MIN_TURN else "Turn your head a little more"
    first_side = np.sign(taken[1] - taken[0])
    if np.sign(change) == first_side or abs(change) < MIN_TURN:
        return "Now turn your head slightly the other way"
    return None


def guidance(result) -> str | None:
    """What the person should do for a usable shot, or None when the current frame is good."""
    faces = [t for t in result.tracks]
    if not faces:
        return "No face in view: please stand in front of the camera"
    if len(faces) > 1:
        return "Only one person in view, please"
    face = faces[0]
    if face.box[2] < MIN_ENROLL_FACE:
        return "Please move closer to the camera"
    crop = face_crop(result.frame.image, face.box, grow=0.0)
    if crop.size == 0:
        return "Please move to the middle of the picture"
    brightness = float(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).mean())
    if brightness < MIN_BRIGHTNESS:
        return "Too dark: turn on a light or face the window"
    if brightness > MAX_BRIGHTNESS:
        return "Too bright: move out of the direct light"
    chip = cv2.resize(crop, (150, 150))
    if sharpness(chip) < MIN_ENROLL_SHARPNESS:
        return "Hold still, please"
    return None


class EnrollDialog(QDialog):
    def __init__(self, window: DialogHost):
        super().__init__(host_widget(window))
        self.main_window: DialogHost = window  # not self.window: that is QWidget.window()
        self.setWindowTitle("Enroll a person")
        self.setObjectName("enroll_dialog")
        self.shots: list[np.ndarray] = []
        self.turns: list[float] = []  # head turn of each shot taken
        self._latest_turn: float | None = None
        self._latest = None
        self._busy = False
        self.worker = BackgroundJob("enrollment", self)
        self.worker.done.connect(self._job_done)
        self._pending_job: Callable[[Any], None] | None = None

        self.preview = VideoView()
        self.preview.setMinimumSize(480, 300)
        self.preview.set_message("")
        self.step_label = QLabel()
        self.step_label.setStyleSheet("font-size: 18px; font-weight: bold")
        self.hint_label = QLabel("Waiting for the camera...")
        self.hint_label.setStyleSheet("font-size: 15px")
        self.progress = QProgressBar()
        self.progress.setRange(0, len(SHOTS))
        self.capture_button = QPushButton("Capture")
        self.capture_button.setEnabled(False)
        self.capture_button.clicked.connect(self.capture)
        self.retake_button = QPushButton("Start again")
        self.retake_button.clicked.connect(self.restart)
        self.from_file_button = QPushButton("From photo file...")
        self.from_file_button.clicked.connect(self.enroll_from_files)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Full name, as it should be greeted")
        self.name_edit.textChanged.connect(self._update_buttons)
        self.save_button = QPushButton("Save person")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save)
        self.result_label = QLabel("")
        self.result_label.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.step_label)
        layout.addWidget(self.hint_label)
        layout.addWidget(self.progress)
        row = QHBoxLayout()
        row.addWidget(self.capture_button)
        row.addWidget(self.retake_button)
        row.addStretch()
        row.addWidget(self.from_file_button)
        layout.addLayout(row)
        name_row = QHBoxLayout()
        name_row.addWidget(QLabel("Name:"))
        name_row.addWidget(self.name_edit, 1)
        name_row.addWidget(self.save_button)
        layout.addLayout(name_row)
        layout.addWidget(self.result_label)
        window.bridge.frame_ready.connect(self._on_frame)
        self._watching = True
        self.finished.connect(self._stop_watching)
        self._update_step()

    # ------------------------------------------------------------------ live guidance
    def _stop_watching(self, _result=None) -> None:
        if self._watching:  # finished can come more than once (closed, then rejected at shutdown)
            self._watching = False
            self.main_window.bridge.frame_ready.disconnect(self._on_frame)

    def _on_frame(self, result) -> None:
        self._latest = result
        self.preview.show_result(result)
        if len(self.shots) < len(SHOTS):
            problem = guidance(result) or self._pose_problem(result)
            self.hint_label.setText(problem or "Good - press Capture")
            self.capture_button.setEnabled(problem is None and not self._busy)

    def _pose_problem(self, result) -> str | None:
        """Landmarks of the one face in view (a usable frame: guidance passed), its turn, and what to change."""
        engine = self.main_window.engine
        if engine is None:
            return "Loading the face models..."
        face = Face(tuple(result.tracks[0].box), 1.0)
        engine.locate_landmarks(result.frame.image, [face])
        assert face.landmarks is not None  # locate_landmarks sets them
        self._latest_turn = head_turn(face.landmarks)
        return pose_problem(self._latest_turn, self.turns)

    def _update_step(self) -> None:
        taken = len(self.shots)
        self.progress.setValue(taken)
        if taken < len(SHOTS):
            self.step_label.setText(f"Photo {taken + 1} of {len(SHOTS)}: {SHOTS[taken]}")
        else:
            self.step_label.setText("All photos taken. Type the name and press Save.")
            self.hint_label.setText("")
            self.capture_button.setEnabled(False)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.save_button.setEnabled(bool(self.shots) and bool(self.name_edit.text().strip()) and not self._busy)

    def capture(self) -> None:
        if self._latest is None or guidance(self._latest) is not None or self._pose_problem(self._latest):
            return
        assert self._latest_turn is not None  # _pose_problem measured it for this frame
        self.shots.append(self._latest.frame.image.copy())
        self.turns.append(self._latest_turn)
        self._update_step()

    def restart(self) -> None:
        self.shots.clear()
        self.turns.clear()
        self.result_label.setText("")
        self._update_step()

    # ------------------------------------------------------------------ saving
    @property
    def gallery(self) -> Gallery:
        """Looked up each time: a new gallery folder in Settings swaps the object."""
        gallery = self.main_window.gallery
        if gallery is None:  # the window offers enrollment only once the models and the gallery are loaded
            raise FaceGateError("the gallery is not loaded yet")
        return gallery

    def _run(self, job, on_done) -> None:
        self._busy = True
        self._pending_job = on_done
        self._update_buttons()
        self.result_label.setText("Working...")
        self.worker.run(job)

    def _job_done(self, outcome) -> None:
        self._busy = False
        self._update_buttons()
        on_done, self._pending_job = self._pending_job, None
        if isinstance(outcome, FaceGateError):
            self.result_label.setText(f"Not saved: {outcome}")
            return
        assert on_done is not None  # every job is run with its continuation
        on_done(outcome)

    def _duplicate_of(self, photos) -> tuple[str, float] | None:
        """The enrolled person these photos already match, if any (before a second person is created)."""
        gallery = self.gallery
        best = None
        for photo in photos:
            embedding = gallery.photo_embedding(photo)
            if embedding is None:
                continue  # enroll() leaves it out and says why
            match = gallery.match(embedding)
            if (match.name is not None and match.distance < self.main_window.settings.threshold
                    and (best is None or match.distance < best[1])):
                best = (match.name, match.distance)
        return best

    def save(self, photos=None) -> None:
        try:
            name = validate_name(self.name_edit.text())
        except FaceGateError as exc:
            self.result_label.setText(str(exc))
            return
        photos = list(photos) if photos else list(self.shots)
        self._run(lambda: self._check(name, photos), lambda checked: self._confirm_and_enroll(name, photos, *checked))

    def _check(self, name: str, photos):
        """(the person a new name's photos already match, the photos compared with an existing person's own)."""
        gallery = self.gallery
        if name not in gallery.people:
            return self._duplicate_of(photos), []
        # More photos of someone enrolled: as People's "Add photos", they must look like that person.
        return None, gallery.resemblances(name, photos)

    def confirm_mixed_identity(self, name: str, doubts) -> bool:
        return ask_mixed_identity(self, name, doubts, self.main_window.settings.threshold)

    def _confirm_and_enroll(self, name: str, photos, duplicate, compared=()) -> None:
        doubts = mixed_identity_doubts(list(compared), PolicySettings.from_settings(self.main_window.settings))
        if doubts and not self.confirm_mixed_identity(name, doubts):
            self.result_label.setText(f"Nothing saved. Add only photos of {name}; a photo of someone else lets "
                                      f"them in as {name}.")
            return
        if duplicate is not None and duplicate[0] != name:
            answer = QMessageBox.question(
                self, "Already enrolled?",
                f"This face already matches {duplicate[0]} (distance {duplicate[1]:.2f}).\n\n"
                f"Add these photos to {duplicate[0]} instead of creating {name}?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No | QMessageBox.StandardButton.Cancel)
            if answer == QMessageBox.StandardButton.Cancel:
                self.result_label.setText("Nothing saved.")
                return
            if answer == QMessageBox.StandardButton.Yes:
                name = duplicate[0]
        self._run(lambda: self.gallery.enroll(name, photos), lambda outcome: self._enrolled(name, outcome))

    def _enrolled(self, name: str, outcome) -> None:
        saved, problems = outcome
        lines = [f"Saved {len(saved)} photo(s) of {name}. They are recognised from now on."]
        lines += [f"Left out {p.path.name}: {p.reason}" for p in problems]
        self.result_label.setText("\n".join(lines))
        self.shots.clear()
        self.turns.clear()
        self._update_step()
        self.main_window.gallery_changed()

    def enroll_from_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Photos of the person", str(Path.home()),
                                                "Images (*.jpg *.jpeg *.png *.bmp *.webp)")
        if files:
            self.save([Path(f) for f in files])
