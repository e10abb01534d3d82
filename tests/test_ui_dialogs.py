"""The receptionist's dialogs on the real window: People, Access log and Settings.

A real gallery folder (people_small/train plus one loose photo), the real models, the real SQLite log and the
real window playing the clip. Modal questions (rename, delete, URL, calibration, file picker) are answered in
the real Qt dialogs, the way a person would, through QTimer.
"""

import csv
import json
import time
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QDate, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QInputDialog, QLineEdit, QMessageBox

from facegate.config import Settings
from facegate.imageio import load_image

DAY = 86400.0


@pytest.fixture()
def gallery_folder(request, people_gallery, tmp_path, clips):
    """people_gallery with a photo the receptionist must replace; or, parametrized (indirect) with {person: [photo
    in clips]}, a folder of just those people."""
    people = getattr(request, "param", None)
    if people is not None:
        folder = tmp_path / "people"
        for person, photos in people.items():
            (folder / person).mkdir(parents=True)
            for photo in photos:
                (folder / person / photo).write_bytes((clips / photo).read_bytes())
        return folder
    (people_gallery / "kit_harington" / "empty.jpg").write_bytes(b"")  # a photo the receptionist must replace
    return people_gallery


@pytest.fixture()
def window(qtbot, home, clips, gallery_folder):
    from facegate.ui.main_window import MainWindow

    settings = Settings(source=str(clips / "short_hamilton_clip.mp4"), gallery=str(gallery_folder),
                        log_dir=str(home / "log"), speech=False)
    win = MainWindow(settings, settings_path=home / "config.json")
    win.show()
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.engine is not None and win.access_log is not None, timeout=180_000)
    yield win
    win.shutdown()


def answer_modals(handlers, timeout_s=60.0):
    """Answer the next modal dialogs, one handler per dialog: (dialog class, function that reads and closes it).
    Returns a list that gets one entry per dialog answered (what the handler returned). A dialog of another
    kind, or none within the timeout, is rejected and reported in `errors`, so a test never hangs."""
    handlers = list(handlers)
    answered, errors = [], []
    deadline = time.monotonic() + timeout_s

    def poll():
        dialog = QApplication.activeModalWidget()
        if dialog is None or not dialog.isVisible():
            if time.monotonic() > deadline:
                errors.append(f"no dialog within {timeout_s} s")
                return
            QTimer.singleShot(50, poll)
            return
        kind, handle = handlers[0]
        if not isinstance(dialog, kind):
            errors.append(f"expected a {kind.__name__}, got {type(dialog).__name__}")
            dialog.reject()
            return
        handlers.pop(0)
        answered.append(handle(dialog))
        if handlers:
            QTimer.singleShot(50, poll)

    QTimer.singleShot(50, poll)
    return answered, errors


def type_text(text):
    def handle(dialog: QInputDialog):
        label = dialog.labelText()
        dialog.setTextValue(text)
        dialog.accept()
        return label
    return handle


def item_named(dialog, name):
    for i in range(dialog.list.count()):
        item = dialog.list.item(i)
        if item.data(Qt.ItemDataRole.UserRole) == name:
            return item
    raise AssertionError(f"{name} is not in the people list: {dialog.names()}")


def select(dialog, name):
    dialog.list.setCurrentItem(item_named(dialog, name))


def wait_idle(qtbot, dialog, timeout=120_000):
    qtbot.waitUntil(lambda: not dialog.busy, timeout=timeout)


def face_snapshot(clips, name):
    image = load_image(clips / name, max_side=200)
    return np.ascontiguousarray(image[: image.shape[0] // 2, : image.shape[1] // 2])


# ---------------------------------------------------------------------------------------------------- People

def test_people_dialog_shows_and_forgets_learned_photos(window, qtbot, gallery_folder, clips):
    from facegate.learning import TemplateLearner
    from facegate.pipeline import face_crop
    from facegate.ui.people_dialog import PeopleDialog

    image = load_image(clips / "people_small" / "test" / "obama1.jpg")
    face = window.gallery.engine.detect(image)[0]
    assert TemplateLearner(window.gallery).learn("obama", face_crop(image, face.box), time.time()).learned
    dialog = PeopleDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    text = item_named(dialog, "obama").text()
    assert text.startswith("obama\n3 photos\n1 learned at the kiosk (0.") and "CHECK" not in text
    # A stricter threshold in the settings: his learned photo (0.32 from his enrolled ones) is now drift
    window.apply_settings(replace(window.settings, threshold=0.3))
    assert window.gallery.threshold == 0.3
    dialog.reload()
    drift = "CHECK: learned photos drift from the enrolled ones; forget them"
    assert item_named(dialog, "obama").text().endswith(drift)
    select(dialog, "biden")
    assert not dialog.forget_button.isEnabled()  # nothing learned of him
    select(dialog, "obama")
    assert dialog.forget_button.isEnabled()
    qtbot.mouseClick(dialog.forget_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, dialog)
    assert "Forgot 1 photo learned of obama; the photos enrolled for them stay." in dialog.result_label.text()
    assert item_named(dialog, "obama").text() == "obama\n2 photos"
    assert window.gallery.learned_photos("obama") == [] and not dialog.forget_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.thumbnails_ready, timeout=60_000)
    dialog.close()


def test_people_dialog_lists_renames_deletes_and_shows_problems(window, qtbot, gallery_folder, clips, tmp_path):
    from facegate.access_log import AccessEvent
    from facegate.ui.people_dialog import PeopleDialog

    now = time.time()
    for track, person in enumerate(["biden", "biden", "kit_harington"]):
        window.access_log.record(AccessEvent(now - 60 + track, 900 + track, person, 0.41, 0.2, "granted",
                                             snapshot=face_snapshot(clips, "biden.jpg")))
    assert window.access_log.flush()
    biden_snapshots = [row.snapshot for row in window.access_log.recent(person="biden")]
    assert len(biden_snapshots) == 2 and all(path.is_file() for path in biden_snapshots)

    dialog = PeopleDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()

    # -- the list: everyone in the folder, with the number of usable photos, and a face picture
    assert set(dialog.names()) == {"Lin-Manuel Miranda", "alex_lacamoire", "biden", "kit_harington", "obama",
                                   "rose_leslie"}
    assert item_named(dialog, "obama").text() == "obama\n2 photos"
    assert item_named(dialog, "alex_lacamoire").text() == "alex_lacamoire\n1 photo"
    assert item_named(dialog, "kit_harington").text() == "kit_harington\n2 photos (1 not usable, see below)"
    assert "6 people recognised" in dialog.count_label.text()
    problems = [dialog.problems_list.item(i).text() for i in range(dialog.problems_list.count())]
    assert problems == ["empty.jpg: the file is empty (0 bytes); replace it with a real photo"]
    qtbot.waitUntil(lambda: dialog.thumbnails_ready, timeout=60_000)
    placeholder = dialog.placeholder.toImage()
    for name in dialog.names():
        picture = item_named(dialog, name).icon().pixmap(dialog.list.iconSize()).toImage()
        assert not picture.isNull() and picture != placeholder, f"no face picture for {name}"

    # -- rename: a name already taken is refused with the reason, then the new name is accepted
    select(dialog, "obama")
    assert dialog.rename_button.isEnabled()
    answered, errors = answer_modals([(QInputDialog, type_text("Kit_Harington")),
                                      (QInputDialog, type_text("Barack Obama"))])
    qtbot.mouseClick(dialog.rename_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, dialog)
    assert not errors and len(answered) == 2
    assert "There is already a person called kit_harington" in answered[1]
    assert (gallery_folder / "Barack Obama").is_dir() and not (gallery_folder / "obama").exists()
    assert "Barack Obama" in window.gallery.people and "obama" not in window.gallery.people
    assert item_named(dialog, "Barack Obama").text() == "Barack Obama\n2 photos"
    assert dialog.selected_name() == "Barack Obama"
    assert "obama is now called Barack Obama" in dialog.result_label.text()

    # -- delete, cancelled: nothing happens
    select(dialog, "biden")
    answered, errors = answer_modals([(QMessageBox, lambda box: box.button(QMessageBox.StandardButton.Cancel)
                                       .click())])
    qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    assert not errors and answered
    assert (gallery_folder / "biden").is_dir() and "biden was not deleted" in dialog.result_label.text()

    # -- delete, confirmed, with the access log snapshots erased too
    def confirm_and_erase_log(box: QMessageBox):
        words = f"{box.text()} {box.informativeText()}"
        box.checkBox().setChecked(True)
        next(b for b in box.buttons() if b.text() == "Delete").click()
        return words

    answered, errors = answer_modals([(QMessageBox, confirm_and_erase_log)])
    qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, dialog)
    assert not errors
    assert "All photos of biden (2) and their stored face data will be erased" in answered[0]
    assert not (gallery_folder / "biden").exists()
    assert "biden" not in window.gallery.people and "biden" not in dialog.names()
    assert window.access_log.recent(person="biden") == []
    assert not any(path.exists() for path in biden_snapshots)
    assert len(window.access_log.recent(person="kit_harington")) == 1  # nobody else's entries touched
    assert "biden was deleted (2 photos and their face data erased). 2 access log entries" \
        in dialog.result_label.text()
    assert window.people_label.text() == f"Enrolled: {len(window.gallery.people)}" == "Enrolled: 5"

    # -- add photos: the good one is saved, the broken one is left out with the reason
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo")
    select(dialog, "alex_lacamoire")
    dialog.add_photos([clips / "alex-lacamoire.png", broken])
    wait_idle(qtbot, dialog)
    text = dialog.result_label.text()
    # with the reason from facegate.imageio
    assert text.startswith("Added 1 photo of alex_lacamoire.") and "Left out broken.jpg: " in text
    assert window.gallery.photo_count("alex_lacamoire") == 2
    assert item_named(dialog, "alex_lacamoire").text() == "alex_lacamoire\n2 photos"

    # -- a bad photo copied into the folder shows under Problems after "Check the folder again"
    (gallery_folder / "rose_leslie" / "scan.jpg").write_bytes(b"")
    qtbot.mouseClick(dialog.refresh_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, dialog)
    problems = [dialog.problems_list.item(i).text() for i in range(dialog.problems_list.count())]
    assert "scan.jpg: the file is empty (0 bytes); replace it with a real photo" in problems
    assert item_named(dialog, "rose_leslie").text() == "rose_leslie\n2 photos (1 not usable, see below)"

    # -- a refused edit is shown in the dialog, not lost
    select(dialog, "rose_leslie")
    dialog.add_photos([broken])
    wait_idle(qtbot, dialog)
    assert dialog.result_label.text().startswith("No photos of rose_leslie were added: Nothing enrolled")


@pytest.mark.parametrize("gallery_folder", [{"Lin-Manuel Miranda": ["lin-manuel-miranda.png"],
                                                "Barack Obama": ["obama2.jpg"]}], indirect=True)
def test_adding_a_photo_of_someone_else_asks_first_and_flags_the_person(window, qtbot, gallery_folder, clips):
    from facegate.ui.people_dialog import MIXED_PHOTOS_WARNING, PeopleDialog

    dialog = PeopleDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    assert item_named(dialog, "Lin-Manuel Miranda").text() == "Lin-Manuel Miranda\n1 photo"
    lin_photos = window.gallery.photos()["Lin-Manuel Miranda"]

    def read_and_answer(button):
        def handle(box: QMessageBox):
            shown = (box.text(), box.informativeText(),
                     box.defaultButton() is box.button(QMessageBox.StandardButton.No))
            box.button(button).click()
            return shown
        return handle

    # -- Obama's photo offered for Lin-Manuel: the question names both, No is the default; No adds nothing
    select(dialog, "Lin-Manuel Miranda")
    answered, errors = answer_modals([(QMessageBox, read_and_answer(QMessageBox.StandardButton.No))])
    dialog.add_photos([clips / "obama.jpg"])
    wait_idle(qtbot, dialog)
    assert not errors and len(answered) == 1
    question, explanation, no_by_default = answered[0]
    assert question.startswith("This photo (obama.jpg) looks like Barack Obama (0.")
    assert ", not like Lin-Manuel Miranda (0." in question and question.endswith("Add it to Lin-Manuel Miranda anyway?")
    assert "lower is more alike" in explanation and no_by_default
    assert dialog.result_label.text().startswith("Nothing was added to Lin-Manuel Miranda.")
    assert window.gallery.photos()["Lin-Manuel Miranda"] == lin_photos
    assert window.gallery.photo_count("Lin-Manuel Miranda") == 1

    # -- a second genuine photo of Obama is added without a question
    asked = []
    dialog.confirm_mixed_identity = lambda name, doubts: asked.append(doubts) or False  # no modal to hang on
    select(dialog, "Barack Obama")
    dialog.add_photos([clips / "obama.jpg"])
    wait_idle(qtbot, dialog)
    assert asked == [] and dialog.result_label.text() == "Added 1 photo of Barack Obama."
    assert window.gallery.photo_count("Barack Obama") == 2
    del dialog.confirm_mixed_identity  # the real question again

    # -- Yes: added, said so, and the People list flags Lin-Manuel in red; Obama's photos agree with each other
    select(dialog, "Lin-Manuel Miranda")
    answered, errors = answer_modals([(QMessageBox, read_and_answer(QMessageBox.StandardButton.Yes))])
    dialog.add_photos([clips / "obama.jpg"])
    wait_idle(qtbot, dialog)
    assert not errors and "looks like Barack Obama (0." in answered[0][0]
    assert dialog.result_label.text().startswith("Added 1 photo of Lin-Manuel Miranda.\nobama.jpg was added "
                                                 "although it looks like Barack Obama (0.")
    assert window.gallery.photo_count("Lin-Manuel Miranda") == 2
    flagged = item_named(dialog, "Lin-Manuel Miranda")
    assert flagged.text() == f"Lin-Manuel Miranda\n2 photos\n{MIXED_PHOTOS_WARNING}"
    assert flagged.foreground().color().red() > 150
    assert item_named(dialog, "Barack Obama").text() == "Barack Obama\n2 photos"
    qtbot.waitUntil(lambda: dialog.thumbnails_ready, timeout=60_000)
    dialog.close()


@pytest.mark.parametrize("gallery_folder", [{"Lin-Manuel Miranda": ["lin-manuel-miranda.png"],
                                                "Barack Obama": ["obama2.jpg"]}], indirect=True)
def test_enrolling_someone_else_under_an_existing_name_asks_first(window, qtbot, gallery_folder, clips):
    """The enrollment dialog with an enrolled person's name adds photos to that person: the same question as
    People's "Add photos" before a face that looks like someone else joins them."""
    from facegate.ui.enroll_dialog import EnrollDialog

    dialog = EnrollDialog(window)
    qtbot.addWidget(dialog)
    asked = []
    dialog.confirm_mixed_identity = lambda name, doubts: asked.append((name, doubts)) or False
    qtbot.keyClicks(dialog.name_edit, "Lin-Manuel Miranda")
    dialog.save([clips / "obama.jpg"])
    qtbot.waitUntil(lambda: dialog.result_label.text().startswith("Nothing saved."), timeout=60_000)
    [(name, [(photo, doubt)])] = asked
    assert name == "Lin-Manuel Miranda" and photo.name == "obama.jpg" and doubt.startswith("looks like Barack Obama")
    assert window.gallery.photo_count("Lin-Manuel Miranda") == 1


# ---------------------------------------------------------------------------------------------------- Log

def test_log_dialog_filters_exports_and_says_when_the_log_is_unavailable(window, qtbot, clips, home):
    from facegate.access_log import AccessEvent
    from facegate.ui.log_dialog import LogDialog

    now = time.time()
    two_days_ago = now - 2 * DAY
    snapshot = face_snapshot(clips, "obama.jpg")
    events = [AccessEvent(two_days_ago, 1, "obama", 0.38, 0.21, "granted", snapshot=snapshot),
              AccessEvent(two_days_ago + 60, 2, "obama", 0.44, 0.15, "granted", snapshot=snapshot),
              AccessEvent(two_days_ago + 120, 3, "biden", 0.40, 0.18, "granted", snapshot=snapshot),
              AccessEvent(two_days_ago + 180, 4, None, 0.71, None, "unknown", snapshot=snapshot),
              AccessEvent(now - 10 * DAY, 5, "obama", 0.39, 0.2, "granted", snapshot=snapshot)]  # before the week
    for event in events:
        assert window.access_log.record(event)
    assert window.access_log.flush()

    dialog = LogDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: not dialog.loading, timeout=30_000)
    assert dialog.from_date.date() == QDate.currentDate().addDays(-6)
    assert dialog.to_date.date() == QDate.currentDate()
    combo = [dialog.person_combo.itemText(i) for i in range(dialog.person_combo.count())]
    assert combo[0] == "All people" and combo[-1] == "Unknown only" and {"obama", "biden"} <= set(combo)
    shown = {(row.person, row.track_id) for row in dialog.rows}
    assert {("obama", 1), ("obama", 2), ("biden", 3), (None, 4)} <= shown
    assert ("obama", 5) not in shown  # ten days ago: outside the last 7 days

    dialog.choose_person("obama")
    qtbot.waitUntil(lambda: not dialog.loading, timeout=30_000)
    assert dialog.table.rowCount() == 2
    cells = [[dialog.table.item(r, c).text() for c in range(4)] for r in range(2)]
    assert cells[0] == [time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(two_days_ago + 60)), "obama", "Let in",
                        "0.44"]
    assert cells[1][1:] == ["obama", "Let in", "0.38"]
    picture = dialog.table.item(0, 4).data(Qt.ItemDataRole.DecorationRole)
    assert picture is not None and not picture.isNull() and picture.height() == 48

    dialog.from_date.setDate(QDate.currentDate().addDays(-12))
    qtbot.waitUntil(lambda: not dialog.loading and dialog.table.rowCount() == 3, timeout=30_000)

    day = QDate.currentDate().addDays(-2)  # only the day of the test's events: nothing from the live clip
    dialog.to_date.setDate(day)
    dialog.from_date.setDate(day)
    dialog.choose_person("Unknown only")
    qtbot.waitUntil(lambda: not dialog.loading, timeout=30_000)
    assert [dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())] == ["Unknown"]
    assert dialog.table.item(0, 2).text() == "Not recognised"

    dialog.to_date.setDate(day.addDays(-1))  # a range that ends before it starts
    assert "after the \"to\" date" in dialog.status_label.text()
    dialog.to_date.setDate(QDate.currentDate())

    # -- export through the real file picker: same filters, every matching row
    dialog.choose_person("obama")
    dialog.from_date.setDate(QDate.currentDate().addDays(-12))
    qtbot.waitUntil(lambda: not dialog.loading, timeout=30_000)
    target = home / "obama.csv"

    def save_as(picker: QFileDialog):  # type the full path into the file name box, as a person would
        picker.findChild(QLineEdit, "fileNameEdit").setText(str(target))
        chosen = picker.selectedFiles()
        picker.accept()
        return chosen

    answered, errors = answer_modals([(QFileDialog, save_as)])
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: answered and not dialog.exporting, timeout=30_000)
    assert not errors and answered[0] == [str(target)]
    assert dialog.export_label.text() == f"Saved 3 entries to {target}."
    with open(target, newline="", encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    assert [row["person"] for row in exported] == ["obama"] * 3
    assert [row["track_id"] for row in exported] == ["5", "1", "2"]  # oldest first
    assert all(row["snapshot"] for row in exported)

    # -- the log folder made unusable through the real settings path: the dialog says so plainly
    blocked = home / "not-a-folder"
    blocked.write_text("a file where the log folder should be")
    window.apply_settings(replace(window.settings, log_dir=str(blocked)))
    assert window.access_log is None
    unavailable = LogDialog(window)
    qtbot.addWidget(unavailable)
    assert "The access log is not available" in unavailable.status_label.text()
    assert str(blocked) in unavailable.status_label.text()
    assert not unavailable.export_button.isEnabled()


# ---------------------------------------------------------------------------------------------------- Settings

def test_settings_dialog_refuses_bad_values_then_saves_and_applies(window, qtbot, home, clips):
    from facegate.ui.settings_dialog import SettingsDialog

    config = home / "config.json"
    before = window.settings
    dialog = SettingsDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.source_combo.currentText() == "Video file: short_hamilton_clip.mp4"
    assert dialog.threshold_spin.value() == pytest.approx(Settings().threshold)
    assert "balanced" in dialog.threshold_explanation.text()
    assert dialog.greeting_preview.text() == "Preview: Welcome Ada Lovelace"

    # -- a greeting without {name} is refused, with the reason, and nothing is saved
    dialog.greeting_edit.setText("Hello there")
    assert "must contain {name}" in dialog.greeting_preview.text()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    assert "must contain {name}" in dialog.error_label.text()
    assert not config.exists() and window.settings == before

    # -- a threshold above 0.60 is refused with an explanation
    dialog.greeting_edit.setText("Hello {name}, nice to see you")
    assert dialog.greeting_preview.text() == "Preview: Hello Ada Lovelace, nice to see you"
    dialog.threshold_spin.setValue(0.7)
    assert dialog.threshold_explanation.text().startswith("0.70 is not allowed: above 0.60 strangers")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible()
    assert "0.70 is not allowed" in dialog.error_label.text() and "{name}" not in dialog.error_label.text()
    assert not config.exists() and window.settings == before

    # -- good values: saved to config.json and applied to the running window
    dialog.threshold_spin.setValue(0.45)
    assert dialog.threshold_explanation.text().startswith("0.45: stricter — strangers are very unlikely")
    dialog.cooldown_spin.setValue(2.0)
    assert dialog.learn_check.isChecked()
    dialog.learn_check.setChecked(False)
    qtbot.waitUntil(lambda: not dialog.looking_for_cameras and not dialog.loading_voices, timeout=60_000)
    assert dialog.source_status.text() and dialog.voice_status.text()
    assert dialog.source_combo.currentText() == "Video file: short_hamilton_clip.mp4"  # kept after the search
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error_label.text()
    saved = json.loads(config.read_text(encoding="utf-8"))
    assert saved["threshold"] == 0.45
    assert saved["greeting_template"] == "Hello {name}, nice to see you"
    assert saved["greeting_cooldown_s"] == 120.0
    assert saved["source"] == str(clips / "short_hamilton_clip.mp4")
    assert saved["learn_from_visits"] is False
    assert window.settings.threshold == 0.45
    assert window.settings.greeting_template == "Hello {name}, nice to see you"
    assert window.session is not None  # the camera restarted with the new settings

    # -- Cancel changes nothing, even after choosing a network camera through the real question
    applied = window.settings
    dialog = SettingsDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.threshold_spin.value() == pytest.approx(0.45)
    dialog.threshold_spin.setValue(0.55)
    assert "looser" in dialog.threshold_explanation.text()
    answered, errors = answer_modals([(QInputDialog, type_text("rtsp://guard:secret@10.0.0.9/stream"))])
    dialog.source_combo.setCurrentIndex(dialog.source_combo.findText("Network camera (URL)..."))
    assert not errors and answered
    assert dialog.source_combo.currentText() == "Network camera: rtsp://guard:***@10.0.0.9/stream"
    assert dialog.source_value() == "rtsp://guard:secret@10.0.0.9/stream"
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert window.settings == applied
    assert json.loads(config.read_text(encoding="utf-8")) == saved

    # -- Calibrate (offered only when facegate.calibration provides it): the suggestion fills the box only
    dialog = SettingsDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    if dialog.calibrate_button is None:
        pytest.skip("facegate.calibration offers no calibration function: no Calibrate button")

    def use_suggestion(box: QMessageBox):
        use = [b for b in box.buttons() if b.text().startswith("Use ")]
        (use[0] if use else box.button(QMessageBox.StandardButton.Close)).click()
        return box.text(), bool(use)

    answered, errors = answer_modals([(QMessageBox, use_suggestion)])
    qtbot.mouseClick(dialog.calibrate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(answered) or bool(errors), timeout=60_000)
    assert not errors, errors
    text, used = answered[0]
    assert text.startswith("Suggested strictness") or text.startswith("Not enough photos")
    if used:
        assert 0.40 <= dialog.threshold_spin.value() <= 0.60
        assert f"{dialog.threshold_spin.value():.2f}" in text
    assert window.settings == applied  # nothing applied before OK
