"""Enroll a person by snapshot: three shots taken by themselves from the live picture (or photo files), a name,
a duplicate check.

The dialog tells the person in front of the camera what to do until the picture is usable, and takes each shot by
itself once the face has been held good and in a pose still missing (facegate/enrollment.py judges the frames: the
person nearest the camera is enrolled, small faces behind them are ignored). The shots show as thumbnails, each
with its Retake. Checking a shot, encoding and saving run on worker threads so the video keeps moving. Cancel (or
Escape) closes it with nothing written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from facegate.enrollment import POSES, Judgement, Pose, Shot, SnapshotSession
from facegate.errors import FaceGateError
from facegate.gallery import validate_name
from facegate.policy import PolicySettings
from facegate.ui.host import DialogHost, host_widget
from facegate.ui.jobs import BackgroundJob
from facegate.ui.mixed_identity import ask_mixed_identity, mixed_identity_doubts
from facegate.ui.modal import quiet_action_buttons
from facegate.ui.video_view import VideoView, to_qimage

if TYPE_CHECKING:
    from facegate.gallery import Gallery

THUMBNAIL_SIDE = 110


def _button(text: str, slot: Callable[[], None]) -> QPushButton:
    button = QPushButton(text)
    button.clicked.connect(slot)
    return button


class EnrollDialog(QDialog):
    def __init__(self, window: DialogHost, poses: tuple[Pose, ...] = POSES):
        super().__init__(host_widget(window))
        self.main_window: DialogHost = window  # not self.window: that is QWidget.window()
        self.setWindowTitle("Enroll a person")
        self.setObjectName("enroll_dialog")
        self.session = SnapshotSession(min_face_width=window.settings.min_face_width, poses=poses)
        self._judgement: Judgement | None = None
        self._judged_image: np.ndarray | None = None
        self._checking: Shot | None = None  # a shot the gallery is checking on the shot worker
        self._generation = 0  # bumped by Retake and Start again: a shot checked before them is dropped
        self._shot_thread: threading.Thread | None = None
        self._saved = False  # a person was just saved: no more shots until Start again
        self._busy = False
        self.worker = BackgroundJob("enrollment", self)
        self.worker.done.connect(self._job_done)
        self.shot_worker = BackgroundJob("enrollment-shot", self)
        self.shot_worker.done.connect(self._shot_checked)
        self._pending_job: Callable[[Any], None] | None = None

        self.preview = VideoView()
        self.preview.setMinimumSize(480, 300)
        self.preview.set_message("")
        self.step_label = QLabel()
        self.step_label.setStyleSheet("font-size: 18px; font-weight: bold")
        self.hint_label = QLabel("Waiting for the camera...")
        self.hint_label.setStyleSheet("font-size: 15px")
        self.progress = QProgressBar()
        self.progress.setRange(0, len(poses))
        self.progress.setFormat("Photos taken: %v of %m")  # photo counts, not a percentage

        self.thumbnails: dict[Pose, QLabel] = {}
        self.retake_buttons: dict[Pose, QPushButton] = {}
        shots_grid = QGridLayout()
        for column, pose in enumerate(poses):
            thumbnail = QLabel(pose.value)
            thumbnail.setObjectName(f"shot_{pose.name.lower()}")
            thumbnail.setFixedSize(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
            thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
            thumbnail.setWordWrap(True)
            thumbnail.setStyleSheet("border: 1px solid gray; color: gray")
            retake = _button("Retake", partial(self.retake, pose))
            retake.setToolTip(f"Take the photo '{pose.value}' again")
            shots_grid.addWidget(thumbnail, 0, column, Qt.AlignmentFlag.AlignCenter)
            shots_grid.addWidget(retake, 1, column, Qt.AlignmentFlag.AlignCenter)
            self.thumbnails[pose], self.retake_buttons[pose] = thumbnail, retake

        self.auto_check = QCheckBox("Take the photos automatically")
        self.auto_check.setChecked(True)
        self.auto_check.setToolTip("Each photo is taken once the face has been held still in the pose asked for")
        self.capture_button = _button("Capture", self.capture)
        self.capture_button.setEnabled(False)
        self.retake_button = _button("Start again", self.restart)
        self.from_file_button = _button("From photo file...", self.enroll_from_files)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Full name, as it should be greeted")
        self.name_edit.textChanged.connect(self._update_buttons)
        self.name_edit.returnPressed.connect(self._save_on_enter)
        self.save_button = _button("Save person", self.save)
        self.save_button.setEnabled(False)
        self.cancel_button = _button("Cancel", self.reject)
        self.result_label = QLabel("")
        self.result_label.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.step_label)
        layout.addWidget(self.hint_label)
        layout.addWidget(self.progress)
        layout.addLayout(shots_grid)
        row = QHBoxLayout()
        row.addWidget(self.auto_check)
        row.addWidget(self.capture_button)
        row.addWidget(self.retake_button)
        row.addStretch()
        row.addWidget(self.from_file_button)
        layout.addLayout(row)
        name_row = self.name_row = QHBoxLayout()
        name_row.addWidget(QLabel("Name:"))
        name_row.addWidget(self.name_edit, 1)
        name_row.addWidget(self.save_button)
        name_row.addWidget(self.cancel_button)
        layout.addLayout(name_row)
        layout.addWidget(self.result_label)
        window.bridge.frame_ready.connect(self._on_frame)
        self._watching = True
        self.finished.connect(self._stop_watching)
        # Enter never presses a button here (an Enter meant for the PIN just typed would start capturing again, or
        # open a file chooser), however the dialog is opened.
        quiet_action_buttons(self)
        self._update_step()

    # ------------------------------------------------------------------ live guidance
    def _stop_watching(self, _result=None) -> None:
        if self._watching:  # finished can come more than once (closed, then rejected at shutdown)
            self._watching = False
            self.main_window.bridge.frame_ready.disconnect(self._on_frame)
            if self._shot_thread is not None:  # a shot being checked: its answer must not outlive the dialog
                self._shot_thread.join(10.0)

    def reject(self) -> None:
        """Cancel: close with nothing enrolled. Not while the gallery is being written (it would be half done)."""
        if self._busy:
            self.result_label.setText("Saving... please wait; the dialog can be closed once it is saved.")
            return
        super().reject()

    def _on_frame(self, result) -> None:
        if not self._watching:  # a frame queued before the dialog closed
            return
        self.preview.show_result(result)
        if self.session.complete or self._saved:
            return
        engine = self.main_window.engine
        if engine is None:
            self.hint_label.setText("Loading the face models...")
            return
        image = result.frame.image
        # The dialog finds the faces itself: the pipeline's tracks outlive a face by a moment (a box on an empty
        # picture after a cut), and enrollment needs each face's landmarks.
        faces = engine.detect(image, max_side=self.main_window.settings.detect_max_side)
        judgement = self._judgement = self.session.judge(image, faces, result.frame.time)
        self._judged_image = image
        if self._checking is not None:
            self.capture_button.setEnabled(False)
            return
        self.hint_label.setText(judgement.advice if not judgement.good or self.auto_check.isChecked()
                                else f"{judgement.advice} Good - press Capture")
        self.capture_button.setEnabled(judgement.good and not self._busy)
        if judgement.ready and self.auto_check.isChecked():
            self._take(judgement)

    def capture(self) -> None:
        """Take the shot now (the hold not waited for), when the current frame is good for a missing pose."""
        if self._judgement is not None and self._judgement.good and self._checking is None:
            self._take(self._judgement)

    def _take(self, judgement: Judgement) -> None:
        assert self._judged_image is not None  # judged with this frame
        shot = self._checking = self.session.take(self._judged_image, judgement)
        self.capture_button.setEnabled(False)
        self.hint_label.setText(f"{shot.pose.value}: taking the photo...")
        gallery, generation = self.gallery, self._generation
        # The gallery's own analysis, as saving will do it: a shot it would leave out is not shown as taken.
        self._shot_thread = self.shot_worker.run(lambda: (generation, gallery.analyse_photo(shot.photo)))

    def _shot_checked(self, outcome) -> None:
        shot, self._checking, self._shot_thread = self._checking, None, None
        if not self._watching or shot is None:
            return
        if isinstance(outcome, FaceGateError):
            self.hint_label.setText(f"The photo could not be checked: {outcome}")
            return
        generation, (embedding, problem) = outcome
        if generation != self._generation:
            return  # Retake or Start again was pressed meanwhile
        if embedding is None:
            self.hint_label.setText(f"Photo not usable ({problem}): taking another")
            return
        stranger = self.session.unlike_shots(embedding, PolicySettings.from_settings(self.main_window.settings)
                                             .unknown_distance)
        if stranger is not None:
            self.hint_label.setText(f"Not the person in the photos taken (distance {stranger:.2f}): only the person "
                                    "enrolling, please - or Start again")
            return
        shot.embedding = embedding
        self.session.add(shot)
        self.hint_label.setText(f"Photo taken: {shot.pose.value.lower()}")
        self._update_step()

    def _update_step(self) -> None:
        taken = len(self.session.shots)
        self.progress.setValue(taken)
        for pose in self.session.poses:
            shot = self.session.shots.get(pose)
            thumbnail = self.thumbnails[pose]
            if shot is None:
                thumbnail.setPixmap(QPixmap())
                thumbnail.setText(pose.value)
            else:
                thumbnail.setPixmap(QPixmap.fromImage(to_qimage(shot.photo)).scaled(
                    THUMBNAIL_SIDE, THUMBNAIL_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation))
            self.retake_buttons[pose].setEnabled(shot is not None and not self._busy)
        if self._saved:
            self.step_label.setText("Saved. To enroll another person, press Start again.")
            self.hint_label.setText("")
            self.capture_button.setEnabled(False)
        elif self.session.missing:
            wanted = self.session.missing[0]
            self.step_label.setText(f"Photo {taken + 1} of {len(self.session.poses)}: {wanted.instruction}")
        else:
            self.step_label.setText("All photos taken. Type the name and press Save." if len(self.session.poses) > 1
                                    else "Photo taken. Type the name and press Enter.")
            self.hint_label.setText("")
            self.capture_button.setEnabled(False)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.save_button.setEnabled(bool(self.session.shots) and bool(self.name_edit.text().strip())
                                    and not self._busy)
        self.cancel_button.setEnabled(not self._busy)

    def _save_on_enter(self) -> None:
        """Enter in the name field saves, as the person typing it asks; nowhere else does Enter start anything."""
        if self.save_button.isEnabled():
            self.save()

    def retake(self, pose: Pose) -> None:
        self._generation += 1
        self.session.retake(pose)
        self._update_step()

    def restart(self) -> None:
        self._generation += 1
        self._saved = False
        self.session.clear()
        self.result_label.setText("")
        self.cancel_button.setText("Cancel")
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
        photos = list(photos) if photos else [shot.photo for shot in self.session.ordered()]
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
            chosen = self.resolve_duplicate(name, duplicate)
            if chosen is None:
                self.result_label.setText("Nothing saved.")
                return
            name = chosen
        self._run(lambda: self.enroll_job(name, photos), lambda outcome: self._enrolled(name, outcome))

    def resolve_duplicate(self, name: str, duplicate: tuple[str, float]) -> str | None:
        """The face already matches `duplicate` (another name): whom to save the photos under; None: nothing."""
        answer = QMessageBox.question(
            self, "Already enrolled?",
            f"This face already matches {duplicate[0]} (distance {duplicate[1]:.2f}).\n\n"
            f"Add these photos to {duplicate[0]} instead of creating {name}?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Cancel:
            return None
        return duplicate[0] if answer == QMessageBox.StandardButton.Yes else name

    def enroll_job(self, name: str, photos) -> tuple:
        """The saving itself, on the worker thread: (photos saved, photos left out), as Gallery.enroll."""
        return self.gallery.enroll(name, photos)

    def _enrolled(self, name: str, outcome) -> None:
        saved, problems = outcome
        lines = [f"Saved {len(saved)} photo(s) of {name}. They are recognised from now on."]
        lines += [f"Left out {p.path.name}: {p.reason}" for p in problems]
        self.result_label.setText("\n".join(lines))
        # Saved: no more shots of the same face until Start again (for the next person).
        self._generation += 1
        self.session.clear()
        self._saved = True
        self.cancel_button.setText("Close")
        self._update_step()
        self.main_window.gallery_changed()

    def enroll_from_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Photos of the person", str(Path.home()),
                                                "Images (*.jpg *.jpeg *.png *.bmp *.webp)")
        if files:
            self.save([Path(f) for f in files])
