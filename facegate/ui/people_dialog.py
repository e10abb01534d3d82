"""The people manager: who is enrolled, with a face picture and how many photos; add photos, rename, delete.

Photos added to a person are first compared with that person's photos and with everyone else's: a photo of
somebody else would let that somebody in under this person's name, so the dialog asks before it mixes two
people, and the list flags a person whose photos look like different people.

Everything that reads or writes the gallery (checking the folder, adding photos, renaming, deleting, and the
face pictures in the list) runs on a worker thread, so the live video keeps moving. The gallery is live: a
change is used by the kiosk at once, no restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from facegate.access_plan import AccessPlan, AccessPlanStore
from facegate.errors import FaceGateError, GalleryError
from facegate.gallery import Gallery, is_learned, validate_name
from facegate.imageio import load_image
from facegate.learning import LearnedSummary, learned_summaries
from facegate.matching import Resemblance
from facegate.pipeline import face_crop
from facegate.policy import PolicySettings
from facegate.ui.access_tab import AccessTab
from facegate.ui.captions import plural
from facegate.ui.host import DialogHost, host_widget
from facegate.ui.jobs import BackgroundJob
from facegate.ui.mixed_identity import ask_mixed_identity, mixed_identity_doubts
from facegate.ui.video_view import to_qimage

log = logging.getLogger(__name__)

THUMBNAIL_SIZE = 72
# Photos are shrunk to this before looking for the face: plenty for a 72-pixel picture, and quick.
THUMBNAIL_SOURCE_SIDE = 640
PHOTO_FILTER = "Photos (*.jpg *.jpeg *.png *.bmp *.webp)"
MIXED_PHOTOS_WARNING = "CHECK: these photos may show different people; remove the wrong ones from their folder"


def face_thumbnail(files: list[Path], engine, size: int = THUMBNAIL_SIZE) -> np.ndarray | None:
    """A square RGB picture of the face in the first readable photo of `files` (the middle of the photo when
    no face is found there); None when no photo can be read. Slow: call it off the UI thread."""
    for path in _enrolled_first(files):
        try:
            image = load_image(path, max_side=THUMBNAIL_SOURCE_SIDE)
        except FaceGateError:
            continue  # listed under Problems already; try the person's next photo
        faces = engine.detect(image, landmarks=False) if engine is not None else []
        if faces:
            crop = face_crop(image, faces[0].box, grow=0.3)
        else:
            side = min(image.shape[:2])
            top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
            crop = image[top:top + side, left:left + side]
        if crop.size == 0:
            continue
        return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return None


def _enrolled_first(files: list[Path]) -> list[Path]:
    """The person's picture comes from a photo someone enrolled, not one the kiosk learned."""
    return sorted(files, key=is_learned)


def _placeholder(size: int = THUMBNAIL_SIZE) -> QPixmap:
    """Grey square with a question mark, while the face picture is on its way or when there is none."""
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(200, 200, 205))
    painter = QPainter(pixmap)
    painter.setPen(QColor(120, 120, 130))
    font = painter.font()
    font.setPointSize(size // 3)
    painter.setFont(font)
    painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, "?")
    painter.end()
    return pixmap


def follow_in_plan(store: AccessPlanStore, name: str, change: Callable[[AccessPlan], AccessPlan]) -> str:
    """After a rename or a deletion in the gallery: the same in the access plan, when it names `name` (as a person
    or a host). Returns "" or a sentence saying what could not be done (the gallery's change stands)."""
    try:
        plan = store.plan()
        if name not in plan.people and not any(access.host == name for access in plan.people.values()):
            return ""
        store.edit(change)
    except FaceGateError as exc:
        log.error("The access rules do not follow the change of %s: %s", name, exc)
        return f" The access rules could NOT be changed to match: {exc}"
    return " The access rules follow."


class PeopleDialog(QDialog):
    def __init__(self, window: DialogHost):
        super().__init__(host_widget(window))
        self.main_window: DialogHost = window  # not self.window: that is QWidget.window()
        self.setWindowTitle("People")
        self.setObjectName("people_dialog")
        self.resize(760, 640)
        self.busy = False
        self._learned: dict[str, LearnedSummary] = {}  # as of the last reload
        self._pending_job: Callable[[Any], None] | None = None
        self._failure_prefix = ""
        self.worker = BackgroundJob("people", self)
        self.worker.done.connect(self._job_done)
        # Face pictures: one worker of their own, so they never hold up an edit; cached for the dialog's life.
        self._thumbnails: dict[tuple[str, int], QPixmap] = {}  # (first photo, its mtime) -> picture
        self._thumbnail_worker = BackgroundJob("face-pictures", self)
        self._thumbnail_worker.done.connect(self._thumbnails_done)
        self._thumbnails_running = False
        self._thumbnails_again = False
        self.placeholder = _placeholder()

        self.list = QListWidget()
        self.list.setObjectName("people_list")
        self.list.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.list.setSpacing(2)
        self.list.currentItemChanged.connect(lambda *_: self._selection_changed())
        self.count_label = QLabel("")
        self.add_button = QPushButton("Add photos...")
        self.add_button.setObjectName("add_photos_button")
        self.add_button.setToolTip("Add more photos of the selected person (better recognition)")
        self.add_button.clicked.connect(lambda: self.add_photos())
        self.rename_button = QPushButton("Rename...")
        self.rename_button.setObjectName("rename_button")
        self.rename_button.clicked.connect(lambda: self.rename())
        self.delete_button = QPushButton("Delete...")
        self.delete_button.setObjectName("delete_button")
        self.delete_button.clicked.connect(lambda: self.delete())
        self.forget_button = QPushButton("Forget learned photos")
        self.forget_button.setObjectName("forget_learned_button")
        self.forget_button.setToolTip("Delete the photos the kiosk learned of this person on their visits; the "
                                      "photos enrolled for them stay")
        self.forget_button.clicked.connect(lambda: self.forget_learned())
        self.refresh_button = QPushButton("Check the folder again")
        self.refresh_button.setObjectName("refresh_button")
        self.refresh_button.setToolTip("Look again at the people folder, e.g. after photos were copied into it")
        self.refresh_button.clicked.connect(self.refresh)
        self.result_label = QLabel("")
        self.result_label.setObjectName("result_label")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problems_label = QLabel("")
        self.problems_label.setWordWrap(True)
        self.problems_list = QListWidget()
        self.problems_list.setObjectName("problems_list")
        self.problems_list.setMaximumHeight(130)

        people_page = QWidget()
        layout = QVBoxLayout(people_page)
        layout.addWidget(self.count_label)
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.rename_button)
        row.addWidget(self.delete_button)
        row.addWidget(self.forget_button)
        row.addStretch()
        row.addWidget(self.refresh_button)
        layout.addLayout(row)
        layout.addWidget(self.result_label)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.problems_list)
        # Who may enter where and when: the chosen person's groups and dates, and the groups, holidays, pairs.
        self.access_tab = AccessTab(window)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("people_tabs")
        self.tabs.addTab(people_page, "People")
        self.tabs.addTab(self.access_tab, "Access")
        QVBoxLayout(self).addWidget(self.tabs)
        self.reload()

    # ------------------------------------------------------------------ the list
    @property
    def gallery(self) -> Gallery:
        gallery = self.main_window.gallery  # looked up each time: a new gallery folder in Settings swaps the object
        assert gallery is not None  # the window opens People only once the gallery is loaded, and never unloads it
        return gallery

    def selected_name(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def names(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def reload(self, select: str | None = None) -> None:
        """Show the gallery as it is now (a folder listing: quick) and fetch missing face pictures."""
        select = select if select is not None else self.selected_name()
        people = self.gallery.photos()
        self._learned = learned_summaries(self.gallery, people)
        # In memory and one small matrix per person: quick enough for the UI thread, like the learned summaries.
        stranger = PolicySettings.from_settings(self.main_window.settings).unknown_distance
        mixed = set(self.gallery.disagreeing_people(stranger))
        self.list.clear()
        for name, files in people.items():
            usable = self.gallery.photo_count(name)
            lines = [name, plural(usable, "photo")]
            if usable < len(files):
                lines[1] += f" ({len(files) - usable} not usable, see below)"
            if usable == 0:
                lines[1] = "not recognised: no usable photo (see below)"
            if name in mixed:
                lines.append(MIXED_PHOTOS_WARNING)
            learned = self._learned[name]
            lines += learned.describe()
            picture = self._thumbnail_for(files)
            item = QListWidgetItem(QIcon(picture if picture is not None else self.placeholder), "\n".join(lines))
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setToolTip(str(files[0].parent if files[0].parent != self.gallery.folder else files[0]))
            if learned.warning() or name in mixed:
                item.setForeground(QColor(198, 40, 40))
            self.list.addItem(item)
            if name == select:
                self.list.setCurrentItem(item)
        recognised = len(self.gallery.people)
        self.count_label.setText(f"{plural(recognised, 'person', 'people')} recognised by the kiosk."
                                 if people else "Nobody is enrolled yet. Use \"Enroll person\" to add someone.")
        self.problems_list.clear()
        for problem in self.gallery.problems:
            item = QListWidgetItem(f"{problem.path.name}: {problem.reason}")
            item.setToolTip(str(problem.path))
            self.problems_list.addItem(item)
        self.problems_label.setText("Photos that are not used (replace or delete them in the people folder):"
                                    if self.gallery.problems else "All photos are usable.")
        self.problems_list.setVisible(bool(self.gallery.problems))
        self._update_buttons()
        self._fetch_thumbnails()

    # ------------------------------------------------------------------ face pictures
    @staticmethod
    def _thumbnail_key(files: list[Path]) -> tuple[str, int]:
        first = _enrolled_first(files)[0]
        try:
            return str(first), first.stat().st_mtime_ns
        except OSError:
            return str(first), 0

    def _thumbnail_for(self, files: list[Path]) -> QPixmap | None:
        return self._thumbnails.get(self._thumbnail_key(files)) if files else None

    def _fetch_thumbnails(self) -> None:
        if self._thumbnails_running:
            self._thumbnails_again = True  # the list changed meanwhile: look again when this batch is in
            return
        wanted = {name: files for name, files in self.gallery.photos().items()
                  if files and self._thumbnail_key(files) not in self._thumbnails}
        if not wanted:
            return
        engine = self.gallery.engine
        keys = {name: self._thumbnail_key(files) for name, files in wanted.items()}
        self._thumbnails_running = True
        self._thumbnail_worker.run(
            lambda: {keys[name]: face_thumbnail(files, engine) for name, files in wanted.items()})

    def _thumbnails_done(self, outcome) -> None:
        self._thumbnails_running = False
        if isinstance(outcome, FaceGateError):
            # Only the pictures are missing; the list itself is right. Say so rather than hide it.
            log.warning("People: face pictures not made: %s", outcome)
            self.problems_label.setText(f"{self.problems_label.text()}\n(Face pictures could not be made: "
                                        f"{outcome})")
            return
        for key, image in outcome.items():
            self._thumbnails[key] = QPixmap.fromImage(to_qimage(image)) if image is not None else self.placeholder
        files = self.gallery.photos()
        for i in range(self.list.count()):
            item = self.list.item(i)
            person_files = files.get(item.data(Qt.ItemDataRole.UserRole))
            pixmap = self._thumbnail_for(person_files) if person_files else None
            if pixmap is not None:
                item.setIcon(QIcon(pixmap))
        if self._thumbnails_again:
            self._thumbnails_again = False
            self._fetch_thumbnails()

    @property
    def thumbnails_ready(self) -> bool:
        """True once every person in the list has their face picture (or the placeholder, if none)."""
        files = self.gallery.photos()
        return not self._thumbnails_running and all(
            self._thumbnail_key(f) in self._thumbnails for f in files.values() if f)

    # ------------------------------------------------------------------ background work
    def _selection_changed(self) -> None:
        self._update_buttons()
        self.access_tab.show_person(self.selected_name())

    def _update_buttons(self) -> None:
        name = self.selected_name()
        selected = name is not None
        for button in (self.add_button, self.rename_button, self.delete_button):
            button.setEnabled(selected and not self.busy)
        learned = self._learned.get(name) if name is not None else None
        self.forget_button.setEnabled(not self.busy and learned is not None and learned.count > 0)
        self.refresh_button.setEnabled(not self.busy)

    def _run(self, job, on_done, working: str, failure: str) -> None:
        self.busy = True
        self._pending_job = on_done
        self._failure_prefix = failure
        self._update_buttons()
        self._show(working)
        self.worker.run(job)

    def _job_done(self, outcome) -> None:
        self.busy = False
        on_done, self._pending_job = self._pending_job, None
        if isinstance(outcome, FaceGateError):
            self._show(f"{self._failure_prefix}: {outcome}", error=True)
            self.reload()  # a failed step may still have changed part of the folder
            self.main_window.gallery_changed()
        elif on_done is not None:
            on_done(outcome)
        self._update_buttons()

    def _show(self, text: str, error: bool = False) -> None:
        self.result_label.setStyleSheet("color: #c62828" if error else "")
        self.result_label.setText(text)

    def _changed(self, text: str, select: str | None = None) -> None:
        self._show(text)
        self.reload(select)
        self.main_window.gallery_changed()

    # ------------------------------------------------------------------ check the folder again
    def refresh(self) -> None:
        self._run(self.gallery.refresh, lambda problems: self._changed(
            "The people folder was checked again." + (f" {plural(len(problems), 'photo')} not usable."
                                                      if problems else "")),
                  "Checking the people folder...", "The people folder could not be checked")

    # ------------------------------------------------------------------ add photos
    def choose_photos(self, name: str) -> list[Path]:
        files, _ = QFileDialog.getOpenFileNames(self, f"Photos of {name}", str(Path.home()), PHOTO_FILTER)
        return [Path(f) for f in files]

    def add_photos(self, photos: list[Path] | None = None) -> None:
        """Add photo files to the selected person; asks for them when `photos` is None."""
        name = self.selected_name()
        if name is None:
            self._show("Choose a person in the list first.", error=True)
            return
        photos = self.choose_photos(name) if photos is None else list(photos)
        if not photos:
            return
        gallery = self.gallery
        self._run(lambda: gallery.resemblances(name, photos),
                  lambda compared: self._photos_compared(name, photos, compared),
                  f"Comparing {plural(len(photos), 'photo')} with the photos of {name} and of everyone else...",
                  f"No photos of {name} were added")

    def _photos_compared(self, name: str, photos: list[Path], compared: list[tuple[Path, Resemblance]]) -> None:
        """Ask before a photo that may show someone else joins `name` (the kiosk would let that someone in as
        `name`); then add the photos, or nothing."""
        doubts = mixed_identity_doubts(compared, PolicySettings.from_settings(self.main_window.settings))
        if doubts and not self.confirm_mixed_identity(name, doubts):
            self._show(f"Nothing was added to {name}. Add only photos of {name}; a photo of someone else lets "
                       f"them in as {name}.")
            return
        gallery = self.gallery
        self._run(lambda: gallery.enroll(name, photos, allow_new_person=False),
                  lambda outcome: self._photos_added(name, outcome, doubts),
                  f"Adding {plural(len(photos), 'photo')} of {name}...", f"No photos of {name} were added")

    def confirm_mixed_identity(self, name: str, doubts: list[tuple[Path, str]]) -> bool:
        return ask_mixed_identity(self, name, doubts, self.main_window.settings.threshold)

    def _photos_added(self, name: str, outcome, doubts: list[tuple[Path, str]]) -> None:
        saved, problems = outcome
        lines = [f"Added {plural(len(saved), 'photo')} of {name}."]
        lines += [f"Left out {p.path.name}: {p.reason}" for p in problems]
        left_out = {p.path for p in problems}
        for photo, doubt in doubts:
            if photo not in left_out:
                log.warning("People: %s added to %s although it %s (confirmed in the dialog)", photo, name, doubt)
                lines.append(f"{photo.name} was added although it {doubt}.")
        self._changed("\n".join(lines), select=name)

    # ------------------------------------------------------------------ rename
    def ask_new_name(self, old: str, problem: str = "") -> str | None:
        """Ask for the new name (with the reason the previous answer was refused); None when cancelled."""
        dialog = QInputDialog(self)
        dialog.setObjectName("rename_input")
        dialog.setWindowTitle("Rename")
        dialog.setInputMode(QInputDialog.InputMode.TextInput)
        prompt = f"New name for {old}, as it should be greeted:"
        dialog.setLabelText(f"{problem}\n\n{prompt}" if problem else prompt)
        dialog.setTextValue(old)
        dialog.setTextEchoMode(QLineEdit.EchoMode.Normal)
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        dialog.deleteLater()
        return dialog.textValue() if accepted else None

    def _name_problem(self, old: str, new: str) -> str | None:
        """Why `new` cannot replace `old`, in plain words; None when it can."""
        try:
            cleaned = validate_name(new)
        except GalleryError as exc:
            return str(exc)
        for other in self.gallery.photos():
            if other != old and other.casefold() == cleaned.casefold():
                return f"There is already a person called {other}. Choose another name."
        return None

    def rename(self) -> None:
        old = self.selected_name()
        if old is None:
            self._show("Choose a person in the list first.", error=True)
            return
        problem = ""
        while True:
            new = self.ask_new_name(old, problem)
            if new is None:
                self._show(f"{old} was not renamed.")
                return
            problem = self._name_problem(old, new) or ""
            if not problem:
                break
            self._show(problem, error=True)
        new = validate_name(new)
        if new == old:
            self._show(f"{old} keeps the same name.")
            return
        gallery, store = self.gallery, self.access_tab.store()

        def job() -> str:
            gallery.rename(old, new)
            return follow_in_plan(store, old, lambda plan: plan.renamed(old, new))

        self._run(job, lambda plan_problem: self._changed(
            f"{old} is now called {new}. Earlier entries in the access log keep the old name.{plan_problem}",
            select=new), f"Renaming {old}...", f"{old} was not renamed")

    # ------------------------------------------------------------------ forget learned photos
    def forget_learned(self) -> None:
        name = self.selected_name()
        if name is None:
            self._show("Choose a person in the list first.", error=True)
            return
        gallery = self.gallery
        self._run(lambda: gallery.forget_learned(name),
                  lambda count: self._changed(f"Forgot {plural(count, 'photo')} learned of {name}; the photos "
                                              "enrolled for them stay.", select=name),
                  f"Forgetting the learned photos of {name}...", f"The learned photos of {name} were not forgotten")

    # ------------------------------------------------------------------ delete
    def confirm_delete(self, name: str) -> tuple[bool, bool]:
        """Ask before erasing `name`. Returns (delete, also erase their entries and snapshots from the log)."""
        box = QMessageBox(self)
        box.setObjectName("confirm_delete")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Delete person")
        count = len(self.gallery.photos().get(name, []))
        box.setText(f"Delete {name}?")
        box.setInformativeText(f"All photos of {name} ({count}) and their stored face data will be erased. "
                               "The kiosk will no longer recognise them. This cannot be undone.")
        also = QCheckBox("Also erase their entries and snapshots from the access log")
        if self.main_window.access_log is None:
            also.setText("Also erase their access log entries (the access log is not open now)")
            also.setEnabled(False)
        box.setCheckBox(also)
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.exec()
        box.deleteLater()
        return box.clickedButton() is delete, also.isChecked()

    def delete(self) -> None:
        name = self.selected_name()
        if name is None:
            self._show("Choose a person in the list first.", error=True)
            return
        confirmed, erase_log = self.confirm_delete(name)
        if not confirmed:
            self._show(f"{name} was not deleted.")
            return
        gallery, access_log = self.gallery, self.main_window.access_log if erase_log else None
        store = self.access_tab.store()

        def job() -> tuple[int, int | FaceGateError | None, str]:
            photos = gallery.remove(name)
            plan_problem = follow_in_plan(store, name, lambda plan: plan.without_person(name))
            if access_log is None:
                return photos, None, plan_problem
            try:
                return photos, access_log.erase_person(name), plan_problem
            except Exception as exc:  # the person is gone already; report the log part on its own
                log.exception("Could not erase %s from the access log", name)
                return photos, FaceGateError(str(exc)), plan_problem

        self._run(job, lambda outcome: self._deleted(name, *outcome), f"Deleting {name}...",
                  f"{name} was not deleted")

    def _deleted(self, name: str, photos: int, log_outcome, plan_problem: str = "") -> None:
        text = f"{name} was deleted ({plural(photos, 'photo')} and their face data erased).{plan_problem}"
        if isinstance(log_outcome, FaceGateError):
            self._changed(text, select="")
            self._show(f"{text}\nTheir access log entries could NOT be erased: {log_outcome}", error=True)
            return
        if log_outcome is not None:
            erased = plural(log_outcome, "access log entry", "access log entries")
            text += f" {erased} and their snapshots were erased too."
        self._changed(text, select="")
