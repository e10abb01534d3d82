"""Helpers shared by several test modules: a real network camera and a counting wrapper of the real engine."""

import http.server
import socketserver
import threading
import time

import cv2

ADMIN_PIN = "246813"


class CountingEngine:
    """The real engine, counting the chips it encodes (to prove a cache was used, or rebuilt)."""

    def __init__(self, engine):
        self._engine = engine
        self.encoded = 0

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def embed_chips(self, chips, sface_chips):
        self.encoded += len(chips)
        return self._engine.embed_chips(chips, sface_chips)


class MjpegCamera:
    """A real network camera: an HTTP server streaming JPEG frames (multipart/x-mixed-replace)."""

    def __init__(self, frames, port=0):
        self.frames = [cv2.imencode(".jpg", f)[1].tobytes() for f in frames]
        self.online = threading.Event()
        camera = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                i = 0
                while camera.online.is_set():
                    data = camera.frames[i % len(camera.frames)]
                    try:
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                         % len(data) + data + b"\r\n")
                    except OSError:
                        return
                    i += 1
                    time.sleep(1 / 30)

            def log_message(self, *args):
                pass

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = True
        self.port = self.server.server_address[1]
        self.online.set()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def unplug(self):
        self.online.clear()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# ---------------------------------------------------------------------------------------------------- the window
def still_window(qtbot, home, engine, photos):
    """The real window with the real models (the session's `engine`) and a gallery of `photos` ({name: photo file});
    its camera is one that is not there, so no clip plays while dialogs are tested. Shut it down after the test."""
    import shutil

    from facegate.config import Settings
    from facegate.kiosk import open_gallery
    from facegate.ui.main_window import MainWindow

    folder = home / "gallery"
    folder.mkdir()
    for name, photo in photos.items():
        shutil.copy(photo, folder / f"{name}{photo.suffix}")
    settings = Settings(source="7", gallery=str(folder), log_dir=str(home / "log"), speech=False)
    win = MainWindow(settings, settings_path=home / "config.json", load_models=False)
    win.show()
    qtbot.addWidget(win)
    win.gallery = open_gallery(settings, engine)
    win.gallery.refresh()
    win.bridge.engine_ready.emit(engine)  # as the model loader does once the models are in
    qtbot.waitUntil(lambda: win.session is not None, timeout=30_000)
    return win


def answer_modals(handlers, timeout_s=30.0):
    """Answer the next modal dialogs, one handler per dialog; each handler gets the dialog and closes it. Returns
    the list of what the handlers returned and a list of errors (a dialog of another kind is rejected)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    handlers = list(handlers)
    answered, errors = [], []
    deadline = time.monotonic() + timeout_s
    last = []  # the dialog just handled, until it has closed (a PIN prompt shown again is the same object)

    def poll():
        dialog = QApplication.activeModalWidget()
        if last and dialog is not last[0]:
            last.clear()
        if dialog is None or not dialog.isVisible() or last:
            if time.monotonic() > deadline:
                errors.append(f"no dialog within {timeout_s} s")
                return
            QTimer.singleShot(50, poll)
            return
        last.append(dialog)
        dialog.finished.connect(last.clear)  # closed: when shown again, it is the next dialog to answer
        kind, handle = handlers.pop(0)
        if not isinstance(dialog, kind):
            errors.append(f"expected a {kind.__name__}, got {type(dialog).__name__} ({dialog.windowTitle()})")
            dialog.reject()
        else:
            answered.append(handle(dialog))
        if handlers:
            QTimer.singleShot(50, poll)

    QTimer.singleShot(50, poll)
    return answered, errors
