"""Take the README's screenshots of "Who may enter where and when": the People dialog's Access tab and the visitor
registration, on the real window under Xvfb, with the README's small office as the access rules.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python scripts/access_screenshots.py

Writes docs/access_tab.png and docs/visitor.png, and prints the rules file as the app wrote it. The visitor's
snapshot is taken by the dialog's own guided capture from a real enrollment photo (Joe Biden's, in the shared test
data) handed in as camera frames. Uses a throw-away FaceGate home: the real gallery and settings are not touched.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STAFF, CLEANER, VISITOR = "Lin-Manuel Miranda", "Alex Lacamoire", "Joe Biden"


def office_plan():
    """The README's small office."""
    import datetime as dt

    from facegate.access_plan import AccessPlan, Passback, PersonAccess, parse_plan

    today = dt.date.today()
    plan = parse_plan('group "Staff" doors "Front door" "Side door" hours Mon-Fri 07:00-19:00\n'
                      'group "Cleaning" doors "Side door" hours Mon-Fri 18:00-22:00\n'
                      'group "Visitors" doors "Front door" hours Mon-Fri 08:00-18:00\n'
                      f'holiday {today.year}-12-25 "Christmas Day"\n')
    plan = AccessPlan(plan.groups, plan.holidays, timezone="Europe/London",
                      passbacks=(Passback("Front door", "Front exit"),))
    plan = plan.with_person(PersonAccess(STAFF, ("Staff",)))
    return plan.with_person(PersonAccess(CLEANER, ("Cleaning",), valid_until=today + dt.timedelta(days=90)))


def main() -> int:
    if not os.environ.get("DISPLAY"):
        raise SystemExit('run it under Xvfb: xvfb-run -a -s "-screen 0 1280x800x24" ...')
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    from facegate_dev.datasets import clips_dir

    clips = clips_dir()
    if clips is None:
        raise SystemExit("test clips not found: set FACEGATE_DATA or provide ../shared/data/clips")
    home = Path(tempfile.mkdtemp(prefix="facegate-access-shot-"))
    os.environ["FACEGATE_HOME"] = str(home)
    gallery = home / "gallery"
    gallery.mkdir()
    shutil.copy(clips / "lin-manuel-miranda.png", gallery / f"{STAFF}.png")
    shutil.copy(clips / "alex-lacamoire.png", gallery / f"{CLEANER}.png")
    try:
        import cv2
        from PySide6.QtWidgets import QApplication

        from facegate.access_plan import AccessPlanFile, plan_path_for
        from facegate.admin import AdminPin
        from facegate.capture import Frame
        from facegate.config import Settings, default_data_dir
        from facegate.imageio import load_image
        from facegate.pipeline import FrameResult
        from facegate.ui.main_window import MainWindow
        from facegate.ui.people_dialog import PeopleDialog
        from facegate.ui.visitor_dialog import VisitorDialog

        AdminPin(default_data_dir() / "admin.json").set_pin("246813")
        AccessPlanFile(plan_path_for(gallery)).save(office_plan())
        app = QApplication(sys.argv[:1])
        settings = Settings(source="7", gallery=str(gallery), log_dir=str(home / "log"), speech=False)
        window = MainWindow(settings, settings_path=home / "config.json")
        window.show()

        def wait(condition, what: str, timeout: float = 180.0) -> None:
            deadline = time.monotonic() + timeout
            while not condition():
                if time.monotonic() > deadline:
                    raise SystemExit(f"timed out waiting for {what}")
                app.processEvents()
                time.sleep(0.01)

        wait(lambda: window.engine is not None and window.gallery is not None, "the models")
        window._admin_until = time.monotonic() + 600  # as just after the PIN

        people = PeopleDialog(window)
        people.show()
        wait(lambda: people.access_tab.plan is not None and not people.access_tab.busy, "the access rules")
        people.list.setCurrentRow([people.list.item(i).text().split("\n")[0]
                                   for i in range(people.list.count())].index(CLEANER))
        people.tabs.setCurrentWidget(people.access_tab)
        people.access_tab.groups.setCurrentRow(2)
        wait(lambda: people.thumbnails_ready, "the face pictures", 60)
        for _ in range(20):
            app.processEvents()
            time.sleep(0.02)
        out = ROOT / "docs"
        people.grab().save(str(out / "access_tab.png"))
        people.close()

        visitor = VisitorDialog(window)
        visitor.resize(720, 760)
        visitor.show()
        wait(lambda: visitor.plan is not None, "the visitor dialog")
        visitor.host_choice.setCurrentText(STAFF)
        photo = load_image(clips / "biden.jpg", max_side=640)
        frame = cv2.copyMakeBorder(photo, 0, 0, 300, 300, cv2.BORDER_CONSTANT, value=(60, 60, 64))
        index = 0
        deadline = time.monotonic() + 30
        while not visitor.session.complete and time.monotonic() < deadline:
            window.bridge.frame_ready.emit(FrameResult(Frame(frame, index, time.monotonic()), [], []))
            index += 1
            for _ in range(5):
                app.processEvents()
                time.sleep(0.02)
        if not visitor.session.complete:
            raise SystemExit("the visitor's shot was not taken")
        visitor.name_edit.setText(VISITOR)
        for _ in range(20):
            app.processEvents()
            time.sleep(0.02)
        visitor.grab().save(str(out / "visitor.png"))
        visitor.reject()
        print(plan_path_for(gallery).read_text(encoding="utf-8"))
        print(f"saved {out / 'access_tab.png'} and {out / 'visitor.png'}")
        window.shutdown()
        return 0
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
