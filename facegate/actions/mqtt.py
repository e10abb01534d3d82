"""MQTT: each decision on <mqtt_topic>/decision, alerts on <mqtt_topic>/tailgating, and Home Assistant discovery.

Topics (mqtt_topic = facegate/frontdoor, say):
    facegate/frontdoor/availability   "online" / "offline" (retained; "offline" is the last will: a crash or a
                                      lost network shows the kiosk unavailable in Home Assistant)
    facegate/frontdoor/decision       JSON per decision (QoS 1), the same object the webhook gets
    facegate/frontdoor/tailgating     JSON per alert (QoS 1)
    facegate/frontdoor/door_silent    JSON when a site's door falls silent or is back (QoS 1; any kiosk may say it)
    facegate/frontdoor/guard_alert    the decision's JSON again when it is a guard alert (QoS 1)
    facegate/frontdoor/door           "open" / "closed" (retained): the door pulse. "open" expires with the pulse
                                      (MQTT 5 message expiry), and each connection first says the door as it is
                                      then ("closed" after a start): a killed kiosk cannot leave "open" behind
    facegate/frontdoor/last_person    name of the last person granted (retained)
With mqtt_discovery_prefix (Home Assistant's "homeassistant"), retained discovery messages announce a device
with a door sensor, a "last person" sensor, a tailgating sensor, a guard-alert sensor and a decision event
entity, each tied to the availability topic (a dead kiosk shows them unavailable, the door included).

Decisions and alerts go through a durable outbox (facegate/outbox.py, mqtt-outbox.sqlite3 beside the access log),
as the webhook's do: committed before they are published, deleted after the broker's PUBACK. While the broker is
away they wait there (and in paho, which resends after it reconnects, with back-off 1-30 s); a kill at any moment
loses none: the next start publishes what is left, in order. The status bar says the broker is unreachable
meanwhile. The password in mqtt_url is never logged.
"""

from __future__ import annotations

import base64
import logging
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from facegate.actions.payload import redact_url, to_json
from facegate.actions.worker import ActionEvent, ActionHealth, ActionWorker, EventKind, HealthState
from facegate.outbox import Outbox, Pending
from facegate.policy import Verdict

log = logging.getLogger(__name__)

KEEPALIVE_S = 30
PUBLISH_TIMEOUT_S = 5.0  # a QoS 1 message not acknowledged this long after the broker is back: "slow"
EARLY_ACK_KEEP_S = 30.0
# Outbox messages handed to paho and not acknowledged yet, at most (paho holds them in memory, and queues 10,000);
# the rest wait in the outbox until the broker has taken these.
IN_FLIGHT_MAX = 1000
GUARD_ALERT = "guard_alert"  # the topic (under mqtt_topic) a guard alert's decision is published on as well


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
        f"{prefix}/binary_sensor/{node}/{GUARD_ALERT}/config": {
            **common, "name": "Guard alert", "unique_id": f"facegate_{node}_{GUARD_ALERT}", "device_class": "safety",
            "state_topic": f"{base}/{GUARD_ALERT}", "value_template": "{{ 'ON' }}", "off_delay": 60,
            "json_attributes_topic": f"{base}/{GUARD_ALERT}"},
        f"{prefix}/event/{node}/decision/config": {
            **common, "name": "Decision", "unique_id": f"facegate_{node}_decision",
            "state_topic": f"{base}/decision", "event_types": ["granted", "denied", "unknown"],
            "value_template": '{{ {"event_type": value_json.decision, "name": value_json.name} | to_json }}'},
    }


@dataclass(frozen=True)
class _InFlight:
    """An outbox message handed to paho, waiting for the broker's PUBACK."""

    key: str  # the outbox row's
    person: str | None
    sent_at: float  # monotonic


class MqttAction(ActionWorker):
    name = "mqtt"

    def __init__(self, url: str, base_topic: str, door: str, outbox: Outbox, *,
                 discovery_prefix: str = "homeassistant", snapshot: bool = False, reconnect_max_s: float = 30.0,
                 **kwargs):
        super().__init__(**kwargs)
        host, port, username, password, tls = parse_mqtt_url(url)
        self.base = base_topic.strip().strip("/") or "facegate"
        self.door, self.discovery_prefix, self.snapshot = door, discovery_prefix.strip().strip("/"), snapshot
        self.shown_url = redact_url(url)
        self.outbox = outbox
        self.connected = threading.Event()
        self._unacked: dict[int, _InFlight] = {}  # message id -> the outbox message it carries
        self._unacked_lock = threading.Lock()
        # Acknowledgements of messages not registered (yet): _publish() registers one after publish() returns,
        # and the broker may be quicker. Also those of the retained state messages, never registered. Kept
        # EARLY_ACK_KEEP_S (message ids wrap at 65,535: an old one must not pass for a new message's).
        self._acked_early: dict[int, float] = {}
        self._acked_keys: list[str] = []  # acknowledged by the broker; deleted from the outbox on the action's thread
        # Outbox rows in paho's hands, not acknowledged or not deleted yet (seq numbers are not kept for this: SQLite
        # gives a new row the number of a deleted last one).
        self._handed: set[str] = set()
        self._more_waiting = True  # the outbox may hold rows not handed to paho yet
        self._publish_failing = False
        self._door_open_until = 0.0  # monotonic end of the door's pulse, as the door action told it
        self.published = 0
        # MQTT 5: the door's "open" carries a message expiry (the pulse); paho resends unacknowledged messages
        # after a reconnect itself, and the outbox covers a restart, so each connection starts clean.
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"facegate-{slug(self.base)}-"
                             f"{uuid.uuid4().hex[:8]}", protocol=paho.MQTTv5)
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
        self.client.connect_async(self._host, self._port, keepalive=KEEPALIVE_S, clean_start=True)
        self.client.loop_start()  # paho's own network thread; reconnects by itself
        super().start()
        return self

    # ---- paho's thread ----

    def _connected(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.report(HealthState.DOWN, f"broker {self.shown_url} refused the connection ({reason_code})")
            return
        self._publish_door(client)  # first: the door as it is now ("closed" after a start, whatever was retained)
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
        # The outbox row goes on the action's thread (a disk write does not hold up paho's network thread).
        with self._unacked_lock:
            sent = self._unacked.pop(mid, None)
            if sent is None:  # acknowledged before _publish() registered it, or a state message
                self._acked_early[mid] = time.monotonic()
            else:
                self._acked_keys.append(sent.key)
        if sent is not None:
            self._taken(sent, reason_code)

    def _taken(self, sent: _InFlight, reason_code: paho.ReasonCode | None) -> None:
        """The broker acknowledged an outbox message (PUBACK). A refusal (MQTT 5: not authorised, say) is final:
        logged and recorded, not retried."""
        took = f"{(time.monotonic() - sent.sent_at) * 1000:.0f} ms"
        if reason_code is not None and reason_code.is_failure:
            log.error("mqtt: the broker %s refused a message (%s)", self.shown_url, reason_code)
            self.row_outcome(sent.key, sent.person, "failed", f"refused by the broker: {reason_code}")
            self.report(HealthState.DOWN, f"the broker refuses messages ({reason_code})")
            return
        self.published += 1
        self.row_outcome(sent.key, sent.person, "published", took)

    # ---- the action's thread ----

    def handle(self, event: ActionEvent) -> None:
        if event.kind is EventKind.DOOR:
            self._door_told(event)
            return
        payload = dict(event.payload)
        if self.snapshot and event.snapshot is not None:
            payload["snapshot_jpeg"] = _jpeg_base64(event.snapshot)
        body = to_json(payload)
        # Committed before it is published (the webhook's rule): a kill from here on loses nothing.
        self.outbox.add(event.key, body, f"{self.base}/{event.kind.value}")  # .../decision, .../tailgating ...
        if event.payload.get(GUARD_ALERT):
            self.outbox.add(f"{event.key}/{GUARD_ALERT}", body, f"{self.base}/{GUARD_ALERT}")
        self._more_waiting = True
        if not self.connected.is_set():
            self.outcome(event, "waiting", f"broker {self.shown_url} unreachable; published when it is back")
        self.send_due()
        if event.verdict is Verdict.GRANTED and event.person:
            self.client.publish(f"{self.base}/last_person", event.person, qos=1, retain=True)

    def send_due(self) -> None:
        """While connected, hand the outbox's waiting messages to paho, oldest first, up to IN_FLIGHT_MAX not yet
        acknowledged. While the broker is away they wait in the outbox only, where erasing a person reaches them
        (paho resends by itself only what it had in hand when the connection broke)."""
        self._forget_acknowledged()
        while self._more_waiting and self.connected.is_set():
            with self._unacked_lock:
                room = IN_FLIGHT_MAX - len(self._unacked)
            if room <= 0:
                return
            wanted = min(room, 100)
            rows = self.outbox.oldest(len(self._handed) + wanted)
            batch = [pending for pending in rows if pending.key not in self._handed][:wanted]
            for pending in batch:
                if not self._publish(pending):
                    return  # tried again at the next idle
            self._more_waiting = len(batch) == wanted

    def _publish(self, pending: Pending) -> bool:
        person = pending.person()
        sent_at = time.monotonic()
        # Not under our lock: paho's publish() takes its outgoing-message lock, and paho calls _acknowledged with
        # that lock held, which takes ours: holding ours here deadlocked both threads (seen once in CI).
        info = self.client.publish(pending.topic, pending.body, qos=1)
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):  # paho did not take it: it waits here
            if not self._publish_failing:
                log.error("mqtt: cannot publish (%s); %d message(s) wait in the outbox", paho.error_string(info.rc),
                          len(self.outbox))
            self._publish_failing = True
            self.report(HealthState.DOWN, f"cannot publish: {paho.error_string(info.rc)}")
            return False
        self._publish_failing = False
        self._handed.add(pending.key)
        sent = _InFlight(pending.key, person, sent_at)
        with self._unacked_lock:
            acked = self._acked_early.pop(info.mid, None) is not None
            if acked:
                self._acked_keys.append(pending.key)
            else:
                self._unacked[info.mid] = sent
        if acked:
            self._taken(sent, None)
        elif info.rc == paho.MQTT_ERR_NO_CONN:
            self.row_outcome(pending.key, person, "waiting",
                             f"broker {self.shown_url} unreachable; sent when it is back")
        return True

    def _forget_acknowledged(self) -> None:
        with self._unacked_lock:
            keys, self._acked_keys = self._acked_keys, []
        if keys:
            self.outbox.delivered(*keys)
            self._handed.difference_update(keys)

    def _door_told(self, event: ActionEvent) -> None:
        """The door action's pulse began, was extended or ended. Published at once while connected; while the
        broker is away nothing is queued (a stale "open" must not arrive later): the next connection says the
        door as it is then."""
        seconds = float(event.payload.get("seconds") or 0.0)
        opened = event.payload.get("state") == "open"
        self._door_open_until = time.monotonic() + max(seconds, 1.0) if opened else 0.0
        if self.connected.is_set():
            self._publish_door(self.client)

    def _publish_door(self, client: paho.Client) -> None:
        """The door's retained state: "open" expiring with the pulse (the broker drops it then, whatever becomes
        of this kiosk), or "closed"."""
        left = self._door_open_until - time.monotonic()
        if left > 0:
            expiry = Properties(PacketTypes.PUBLISH)
            expiry.MessageExpiryInterval = max(1, math.ceil(left))
            client.publish(f"{self.base}/door", "open", qos=1, retain=True, properties=expiry)
        else:
            client.publish(f"{self.base}/door", "closed", qos=1, retain=True)

    def next_wake(self) -> float:
        with self._unacked_lock:
            busy = bool(self._unacked or self._acked_keys)
        return min(self._idle_s, 0.1) if busy or self._more_waiting else self._idle_s

    def idle(self) -> None:
        self.send_due()
        with self._unacked_lock:
            old = time.monotonic() - EARLY_ACK_KEEP_S
            for mid in [m for m, at in self._acked_early.items() if at < old]:
                del self._acked_early[mid]
            late = sum(1 for sent in self._unacked.values() if time.monotonic() - sent.sent_at > PUBLISH_TIMEOUT_S)
        if late and self.connected.is_set():
            self.report(HealthState.DOWN,
                        f"{late} message(s) not acknowledged by the broker for {PUBLISH_TIMEOUT_S:g} s")
        elif self.connected.is_set() and not self._publish_failing:
            self.report(HealthState.OK)

    def wait_published(self, timeout: float = 10.0) -> bool:
        """Wait until the broker acknowledged everything handed to paho so far (tests, shutdown)."""
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
            self.send_due()
            self.wait_published(1.0)
            info = self.client.publish(f"{self.base}/availability", "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            except (RuntimeError, ValueError):
                log.warning("mqtt: 'offline' could not be sent at stop; the broker's last will says it instead")
        self.client.disconnect()
        self.client.loop_stop()
        try:
            self._forget_acknowledged()
            waiting = len(self.outbox)
            if waiting:
                log.warning("mqtt: %d message(s) not acknowledged by the broker %s yet; they are published at the "
                            "next start", waiting, self.shown_url)
        finally:
            self.outbox.close()



def _jpeg_base64(image) -> str:
    from facegate.access_log import encode_jpeg

    return base64.b64encode(encode_jpeg(image)).decode("ascii")
