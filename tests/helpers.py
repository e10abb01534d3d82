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
