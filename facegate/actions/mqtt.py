"""MQTT: each decision on <mqtt_topic>/decision, alerts on <mqtt_topic>/tailgating, and Home Assistant discovery.

Topics (mqtt_topic = facegate/frontdoor, say):
    facegate/frontdoor/availability   "online" / "offline" (retained; "offline" is the last will: a crash or a
                                      lost network shows the kiosk unavailable in Home Assistant)
    facegate/frontdoor/decision       JSON per decision (QoS 1), the same object the webhook gets
    facegate/frontdoor/tailgating     JSON per alert (QoS 1)
    facegate/frontdoor/door_silent    JSON when a site's door falls silent or is back (QoS 1; any kiosk may say it)
    facegate/frontdoor/door           "open" / "closed" (retained): the door pulse
    facegate/frontdoor/last_person    name of the last person granted (retained)
With mqtt_discovery_prefix (Home Assistant's "homeassistant"), retained discovery messages announce a device
with a door sensor, a "last person" sensor, a tailgating sensor and a decision event entity.

While the broker is away, paho keeps QoS 1 messages and sends them after it reconnects (with back-off, 1-30 s);
the status bar says the broker is unreachable meanwhile. The password in mqtt_url is never logged.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
import uuid
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho

from facegate.actions.payload import redact_url, to_json
from facegate.actions.worker import ActionEvent, ActionHealth, ActionWorker, EventKind, HealthState
from facegate.policy import Verdict

log = logging.getLogger(__name__)

KEEPALIVE_S = 30
PUBLISH_TIMEOUT_S = 5.0  # a QoS 1 message not acknowledged this long after the broker is back: "slow"
EARLY_ACK_KEEP_S = 30.0


def parse_mqtt_url(url: str) -> tuple[str, int, str | None, str | None, bool]:
    """(host, port, username, password, tls) from mqtt://[user[:password]@]host[:port] or mqtts://..."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"{redact_url(url)} is not an MQTT address: write mqtt://HOST:PORT "
                         "(or mqtts:// for TLS; user:password@ before the host if the broker wants them)")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise ValueError(f"{redact_url(url)}: the port must be a number from 1 to 65535") from exc
    return (parts.hostname, port, unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password is not None else None, tls)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "facegate"


def discovery_messages(prefix: str, base: str, door: str) -> dict[str, dict]:
    """Home Assistant MQTT discovery: config topic -> config (published retained)."""
    node = slug(base)
    device = {"identifiers": [f"facegate_{node}"], "name": f"FaceGate {door}", "manufacturer": "FaceGate",
              "model": "Face-recognition kiosk"}
    common = {"availability_topic": f"{base}/availability", "device": device}
    return {
        f"{prefix}/binary_sensor/{node}/door/config": {
            **common, "name": door, "unique_id": f"facegate_{node}_door", "device_class": "door",
            "state_topic": f"{base}/door", "payload_on": "open", "payload_off": "closed"},
        f"{prefix}/sensor/{node}/last_person/config": {
            **common, "name": "Last person", "unique_id": f"facegate_{node}_last_person", "icon": "mdi:account",
            "state_topic": f"{base}/last_person"},
        f"{prefix}/binary_sensor/{node}/tailgating/config": {
            **common, "name": "Tailgating", "unique_id": f"facegate_{node}_tailgating", "device_class": "safety",
            "state_topic": f"{base}/tailgating", "value_template": "{{ 'ON' }}", "off_delay": 30},
        f"{prefix}/event/{node}/decision/config": {
            **common, "name": "Decision", "unique_id": f"facegate_{node}_decision",
            "state_topic": f"{base}/decision", "event_types": ["granted", "denied", "unknown"],
            "value_template": '{{ {"event_type": value_json.decision, "name": value_json.name} | to_json }}'},
    }


class MqttAction(ActionWorker):
    name = "mqtt"

    def __init__(self, url: str, base_topic: str, door: str, *, discovery_prefix: str = "homeassistant",
                 snapshot: bool = False, reconnect_max_s: float = 30.0, **kwargs):
        super().__init__(**kwargs)
        host, port, username, password, tls = parse_mqtt_url(url)
        self.base = base_topic.strip().strip("/") or "facegate"
        self.door, self.discovery_prefix, self.snapshot = door, discovery_prefix.strip().strip("/"), snapshot
        self.shown_url = redact_url(url)
        self.connected = threading.Event()
        self._unacked: dict[int, tuple[ActionEvent, float]] = {}  # message id -> (event, sent at)
        self._unacked_lock = threading.Lock()
        # Acknowledgements of messages not registered (yet): handle() registers a decision after publish() returns,
        # and the broker may be quicker. Also those of the retained state messages, never registered. Kept
        # EARLY_ACK_KEEP_S (message ids wrap at 65,535: an old one must not pass for a new message's).
        self._acked_early: dict[int, float] = {}
        self.published = 0
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"facegate-{slug(self.base)}-"
                             f"{uuid.uuid4().hex[:8]}", clean_session=True)
        client.will_set(f"{self.base}/availability", "offline", qos=1, retain=True)
        if username is not None:
            client.username_pw_set(username, password)
        if tls:
            client.tls_set()
        client.max_queued_messages_set(10_000)
        client.reconnect_delay_set(1, max(1, int(reconnect_max_s)))
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_publish = self._acknowledged
        self.client = client
        self._host, self._port = host, port
        # not logged: starting
        self.health = ActionHealth(self.name, HealthState.DOWN, f"connecting to {self.shown_url}")

    def start(self) -> MqttAction:
        self.client.connect_async(self._host, self._port, keepalive=KEEPALIVE_S)
        self.client.loop_start()  # paho's own network thread; reconnects by itself
        super().start()
        return self

    # ---- paho's thread ----

    def _connected(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.report(HealthState.DOWN, f"broker {self.shown_url} refused the connection ({reason_code})")
            return
        client.publish(f"{self.base}/availability", "online", qos=1, retain=True)
        if self.discovery_prefix:
            for topic, config in discovery_messages(self.discovery_prefix, self.base, self.door).items():
                client.publish(topic, to_json(config), qos=1, retain=True)
        self.connected.set()
        self.report(HealthState.OK)

    def _disconnected(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if not self.stopping:
            self.report(HealthState.DOWN, f"broker {self.shown_url} unreachable; messages wait ({reason_code})")

    def _acknowledged(self, client, userdata, mid, reason_code, properties) -> None:
        # Called by paho with its outgoing-message lock held: take ours only briefly, never the other way round.
        with self._unacked_lock:
            sent = self._unacked.pop(mid, None)
            if sent is None:  # acknowledged before handle() registered it, or a state message
                self._acked_early[mid] = time.monotonic()
        if sent is not None:
            event, at = sent
            self.published += 1
            self.outcome(event, "published", f"{(time.monotonic() - at) * 1000:.0f} ms")

    # ---- the action's thread ----

    def handle(self, event: ActionEvent) -> None:
        if event.kind is EventKind.DOOR:
            self.client.publish(f"{self.base}/door", event.payload["state"], qos=1, retain=True)
            return
        payload = dict(event.payload)
        if self.snapshot and event.snapshot is not None:
            payload["snapshot_jpeg"] = _jpeg_base64(event.snapshot)
        topic = f"{self.base}/{event.kind.value}"  # .../decision or .../tailgating
        # Not under our lock: paho's publish() takes its outgoing-message lock, and paho calls _acknowledged with
        # that lock held, which takes ours: holding ours here deadlocked both threads (seen once in CI).
        sent_at = time.monotonic()
        info = self.client.publish(topic, to_json(payload), qos=1)
        with self._unacked_lock:
            if self._acked_early.pop(info.mid, None) is not None:
                acked = True
            else:
                self._unacked[info.mid] = (event, sent_at)
                acked = False
        if acked:
            self.published += 1
            self.outcome(event, "published", f"{(time.monotonic() - sent_at) * 1000:.0f} ms")
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            with self._unacked_lock:
                self._unacked.pop(info.mid, None)
            self.outcome(event, "failed", paho.error_string(info.rc))
            self.report(HealthState.DOWN, f"cannot publish: {paho.error_string(info.rc)}")
        elif info.rc == paho.MQTT_ERR_NO_CONN:
            self.outcome(event, "waiting", f"broker {self.shown_url} unreachable; sent when it is back")
        if event.verdict is Verdict.GRANTED and event.person:
            self.client.publish(f"{self.base}/last_person", event.person, qos=1, retain=True)

    def idle(self) -> None:
        with self._unacked_lock:
            old = time.monotonic() - EARLY_ACK_KEEP_S
            for mid in [m for m, at in self._acked_early.items() if at < old]:
                del self._acked_early[mid]
            late = sum(1 for _, at in self._unacked.values() if time.monotonic() - at > PUBLISH_TIMEOUT_S)
        if late and self.connected.is_set():
            self.report(HealthState.DOWN,
                        f"{late} message(s) not acknowledged by the broker for {PUBLISH_TIMEOUT_S:g} s")
        elif self.connected.is_set():
            self.report(HealthState.OK)

    def wait_published(self, timeout: float = 10.0) -> bool:
        """Wait until the broker acknowledged everything published so far (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._unacked_lock:
                if not self._unacked:
                    return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        deadline = time.monotonic() + 2.0  # at most this long: the kiosk's stop must not hang on the broker
        if self.connected.is_set():
            self.wait_published(1.0)
            info = self.client.publish(f"{self.base}/availability", "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            except (RuntimeError, ValueError):
                log.warning("mqtt: 'offline' could not be sent at stop; the broker's last will says it instead")
        with self._unacked_lock:
            lost = len(self._unacked)
        if lost:
            log.error("mqtt: %d message(s) never reached the broker %s before stop", lost, self.shown_url)
        self.client.disconnect()
        self.client.loop_stop()


def _jpeg_base64(image) -> str:
    from facegate.access_log import encode_jpeg

    return base64.b64encode(encode_jpeg(image)).decode("ascii")
