"""The JSON a receiver gets for a decision or a tailgating alert (MQTT and webhook send the same object)."""

from __future__ import annotations

import datetime
import json
import math
import uuid
from urllib.parse import urlsplit, urlunsplit

from facegate.actions.worker import ActionEvent, EventKind
from facegate.pipeline import FrameResult
from facegate.policy import Decision


def _plain(value: object) -> object:
    """NumPy numbers and other odd values in liveness cues, as JSON can hold them."""
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    return str(value)


def to_json(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, default=_plain, sort_keys=True,
                      allow_nan=False).encode("utf-8")


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 4)


def iso_time(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat(timespec="milliseconds")


def decision_event(decision: Decision, result: FrameResult, door: str, now: float,
                   demonstration: bool = False) -> ActionEvent:
    """The event for one decision made on `result`. demonstration: the kiosk is marked as one (its source may be
    a file or a virtual camera): every receiver is told."""
    key = str(uuid.uuid4())
    tailgating = bool(decision.details.get("tailgating"))
    payload = {
        "type": "decision", "key": key, "door": door, "time": iso_time(now), "epoch": round(now, 3),
        "decision": decision.verdict.value, "name": decision.name, "track": decision.track_id,
        "frame": result.frame.index, "reason": decision.reason, "greeted": decision.greet,
        "distance": _number(decision.distance), "margin": _number(decision.margin),
        "liveness": decision.details.get("liveness"), "tailgating": tailgating,
        "others_in_view": decision.details.get("others_in_view", 0), "demonstration": demonstration,
        # failed liveness checks as this person within the hour; guard_alert: this refusal alerts the guard (the
        # pipeline's "GUARD ALERT"), published on <mqtt_topic>/guard_alert too
        "guard_alert": bool(decision.details.get("guard_alert")),
        "failed_checks": int(decision.details.get("failed_checks") or 0),
        # a visitor registered at the desk (facegate/access_plan.py) and whom to tell of their arrival
        "visitor": bool(decision.details.get("visitor")), "host": decision.details.get("host"),
    }
    json.loads(to_json(payload))  # anything JSON cannot hold fails here, on the caller's side, with the reason
    return ActionEvent(EventKind.DECISION, key, payload, decision.verdict, decision.name, tailgating,
                       snapshot=result.snapshots.get(decision.track_id))


def tailgating_event(door: str, now: float, granted: str | None, new_tracks: int,
                     demonstration: bool = False) -> ActionEvent:
    """A face appeared while the door was open for `granted`."""
    key = str(uuid.uuid4())
    payload = {"type": "tailgating", "key": key, "door": door, "time": iso_time(now), "epoch": round(now, 3),
               "granted": granted, "new_faces": new_tracks,
               "reason": "a face appeared while the door was open", "demonstration": demonstration}
    return ActionEvent(EventKind.TAILGATING, key, payload, None, granted, True)


def door_silent_event(door: str, silent: bool, last_contact: float | None, raised_by: str, now: float) -> ActionEvent:
    """A site's door has not been heard from for longer than door_silent_after_s (silent), or is back: told once for
    the site, by the kiosk that noticed (`raised_by`)."""
    key = str(uuid.uuid4())
    payload = {"type": "door_silent", "key": key, "door": door, "silent": silent, "time": iso_time(now),
               "epoch": round(now, 3), "last_contact": None if last_contact is None else iso_time(last_contact),
               "silent_for_s": None if last_contact is None or not silent else round(now - last_contact, 1),
               "raised_by": raised_by,
               "reason": "no heartbeat from this door: offline, switched off or cut from the network" if silent
               else "the door is back in contact with the site server"}
    return ActionEvent(EventKind.DOOR_SILENT, key, payload)


def redact_url(url: str) -> str:
    """A URL fit for logs and the status bar: the password (and any query) replaced by ***."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        if parts.username:
            netloc = f"{parts.username}:***@{netloc}" if parts.password is not None else f"{parts.username}@{netloc}"
        return urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "", ""))
    except ValueError:
        return "(a URL that cannot be read)"
