"""Real counterparts of the door and building actions, for tests and benchmarks (not part of the app):

- `Broker`: a mosquitto process from the distribution (apt package mosquitto), on a free local port, with
  persistence so that queued QoS 1 messages survive a restart of the broker;
- `Subscriber`: a paho client that records every message with the time it arrived;
- `Receiver`: an HTTP server that checks each request with the receivers' own function
  (facegate.actions.webhook_verify.verify), keeps each idempotency key once, and can be told to fail (500),
  hang, or go away and come back on the same port;
- `relay_script`: writes a small program that acts like a relay with its own timer and records every switch,
  with timestamps, to a file.
"""

from __future__ import annotations

import http.server
import json
import os
import pwd
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
from email.message import Message
from pathlib import Path

from facegate.actions.webhook_verify import MAX_AGE_S, LateRequest, WebhookRefused, verify


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout: float = 10.0, step: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None)


class Broker:
    """mosquitto on 127.0.0.1:<port>; stop() and start() again keep the port and the persisted sessions."""

    def __init__(self, folder: Path, binary: str | None = None):
        self.binary = binary or mosquitto_binary()
        if self.binary is None:
            raise FileNotFoundError("mosquitto is not installed (apt-get install mosquitto)")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config = self.folder / "mosquitto.conf"
        # started as root, mosquitto would switch to the user "mosquitto", who cannot write the persistence here
        user = pwd.getpwuid(os.getuid()).pw_name
        self.config.write_text(f"user {user}\nlistener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                               f"persistence_location {self.folder}/\nautosave_interval 1\n"
                               "max_queued_messages 100000\n")
        self.process: subprocess.Popen | None = None
        self.url = f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Broker:
        self.process = subprocess.Popen([self.binary, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=open(self.folder / "mosquitto.log", "ab"))  # noqa: SIM115
        if not wait_until(self._listening, 10.0):
            self.stop()
            raise RuntimeError(f"mosquitto did not start (see {self.folder / 'mosquitto.log'})")
        return self

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: mosquitto saves its persistence file
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


class Subscriber:
    """Every message on `topic` (default: all), as (arrival perf_counter, topic, payload bytes, retained)."""

    def __init__(self, port: int, topic: str = "#", client_id: str = "facegate-test-subscriber"):
        import paho.mqtt.client as paho

        self.messages: list[tuple[float, str, bytes, bool]] = []
        self._lock = threading.Lock()
        self.connected = threading.Event()
        # a persistent session: QoS 1 messages published while it reconnects wait for it at the broker
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.reconnect_delay_set(1, 1)

        def on_connect(client, userdata, flags, reason_code, properties):
            client.subscribe(topic, qos=1)
            self.connected.set()

        def on_disconnect(client, userdata, flags, reason_code, properties):
            self.connected.clear()

        def on_message(client, userdata, message):
            with self._lock:
                self.messages.append((time.perf_counter(), message.topic, message.payload, bool(message.retain)))

        self.client.on_connect, self.client.on_disconnect = on_connect, on_disconnect
        self.client.on_message = on_message
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise RuntimeError("the test subscriber could not connect to the broker")

    def on(self, topic: str) -> list[tuple[float, bytes, bool]]:
        with self._lock:
            return [(at, payload, retained) for at, t, payload, retained in self.messages if t == topic]

    def json_on(self, topic: str) -> list[dict]:
        return [json.loads(payload) for _, payload, _ in self.on(topic)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Receiver:
    """A webhook receiver, by the rule of facegate/actions/webhook_verify.py. `mode`: "ok" (200), "fail" (500),
    "hang" (takes the event, then answers only after `hang_s`, so the sender times out and retries the same key).
    A request verify() refuses is answered 401 (counted in bad_signatures); a late one (older than max_age_s) 200,
    kept in `late` and not processed. Keys seen are kept: an event with a known key is answered 200 and not
    processed again. Every request is recorded in `attempts`, and with its headers and body in `requests`."""

    def __init__(self, secret: str, port: int = 0, hang_s: float = 3.0, max_age_s: float = MAX_AGE_S):
        self.secret, self.hang_s, self.max_age_s = secret, hang_s, max_age_s
        self.mode = "ok"
        self.processed: dict[str, dict] = {}  # idempotency key -> payload, once each
        self.order: list[str] = []
        self.attempts: list[tuple[float, str, int]] = []  # (perf_counter, key, status)
        self.requests: list[tuple[Message, bytes]] = []  # (headers: names in any case, body), as they came
        self.refusals: list[str] = []  # verify()'s reasons, late requests' included
        self.late: list[LateRequest] = []
        self.bad_signatures = 0
        self._lock = threading.Lock()
        self._port = port
        self.server: socketserver.ThreadingTCPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                key = self.headers.get("Idempotency-Key", "")
                status = 200
                with receiver._lock:
                    mode = receiver.mode
                    receiver.requests.append((self.headers, body))
                    try:
                        request = verify(self.headers, body, receiver.secret, time.time(), receiver.max_age_s)
                    except LateRequest as late:  # genuine but too old to act on: taken, not processed
                        receiver.refusals.append(late.reason)
                        receiver.late.append(late)
                        request = None
                    except WebhookRefused as refused:
                        receiver.refusals.append(refused.reason)
                        receiver.bad_signatures += 1
                        request, status = None, 401
                    if request is None:
                        pass
                    elif mode == "fail":
                        status = 500
                    elif request.key not in receiver.processed:  # exactly once per key
                        receiver.processed[request.key] = request.payload
                        receiver.order.append(request.key)
                    receiver.attempts.append((time.perf_counter(), key, status))
                if mode == "hang" and status == 200:
                    time.sleep(receiver.hang_s)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, *args):
                pass

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", self._port), Handler)
        self.server.daemon_threads = True
        self.port = self._port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True, name="test webhook receiver").start()
        return self

    def stop(self) -> None:
        """Gone: connections are refused until start() again (same port)."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


RELAY_PROGRAM = r'''
import os, sys, time
log, state, action = sys.argv[1], sys.argv[2], sys.argv[3]

def record(line):
    with open(log, "a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())

now = time.time()
if action == "open":
    seconds = float(sys.argv[4])
    until = now + seconds
    with open(state, "w") as f:
        f.write(repr(until))
    record(f"open {now:.6f} {seconds:g} {os.environ.get('FACEGATE_PERSON', '')}")
    if os.fork() == 0:  # the relay's own timer: lives on whatever happens to the program that opened it
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        time.sleep(seconds)
        with open(state) as f:
            current = float(f.read() or 0)
        if 0 < current <= time.time() + 0.005:  # not re-armed by a later pulse, not closed already
            with open(state, "w") as f:
                f.write("0")
            record(f"timer-close {time.time():.6f}")
        os._exit(0)
elif action == "close":
    with open(state, "w") as f:
        f.write("0")
    record(f"close {now:.6f}")
elif action == "fail":
    record(f"fail {now:.6f}")
    print("relay not answering", file=sys.stderr)
    sys.exit(3)
elif action == "hang":
    record(f"hang {now:.6f}")
    time.sleep(600)
'''


def relay_script(folder: Path) -> tuple[Path, Path]:
    """Write the recording relay; returns (program, record file). Commands to configure:
    f"{sys.executable} {program} {records} {records}.state open {{seconds}}" and the same with close."""
    folder = Path(folder)
    program = folder / "relay.py"
    program.write_text(RELAY_PROGRAM)
    records = folder / "relay.log"
    records.touch()
    return program, records


def relay_command(program: Path, records: Path, action: str) -> str:
    seconds = " {seconds}" if action == "open" else ""
    return f"{sys.executable} {program} {records} {records}.state {action}{seconds}"


def relay_records(records: Path) -> list[tuple[str, float, list[str]]]:
    """(action, epoch time, rest) per recorded switch."""
    out = []
    for line in Path(records).read_text().splitlines():
        parts = line.split(" ")
        out.append((parts[0], float(parts[1]), parts[2:]))
    return out
