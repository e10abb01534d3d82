"""Background jobs for the dialogs: slow work (encoding photos, reading the log, probing cameras) runs on a thread
of its own, named for the job, and its result comes back to the UI thread as a Qt signal."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from facegate.errors import FaceGateError

log = logging.getLogger(__name__)

# Every job's thread is named so: the tests check that none outlives them, and a stack dump says which job it is.
THREAD_PREFIX = "facegate-"


class BackgroundJob(QObject):
    """Runs `job()` on a thread named "facegate-<name>" and emits `done` with its result, or with the
    FaceGateError it raised (any other exception is wrapped in one: reported in the dialog, never lost)."""

    done = Signal(object)  # the job's result, or a FaceGateError

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name

    def run(self, job: Callable[[], object]) -> threading.Thread:
        name = self.name

        def target() -> None:
            try:
                result: object = job()
            except Exception as exc:  # noqa: BLE001 - reported in the dialog, not lost
                result = exc if isinstance(exc, FaceGateError) else FaceGateError(str(exc))
            try:
                self.done.emit(result)
            except RuntimeError:  # the dialog that asked was closed (and deleted) meanwhile: nobody to tell
                log.info("%s finished after its dialog closed; its result is dropped", name)

        thread = threading.Thread(target=target, name=THREAD_PREFIX + name, daemon=True)
        thread.start()
        return thread
