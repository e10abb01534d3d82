"""What a webhook receiver calls to check a FaceGate request: `verify(headers, body, secret, now)`.

Standard library only, so that a receiver can import it (`from facegate.actions.webhook_verify import verify`)
or copy this one file. The kiosk's side is facegate/actions/webhook.py; both use `signature` below.

A request carries:
    Idempotency-Key: <uuid>             one per event, the same on every retry
    X-FaceGate-Timestamp: <unix s>      the event's own time (when the decision was made, in seconds with
                                        milliseconds), the same on every retry
    X-FaceGate-Attempt: <n>             1 for the first try, 2 for the first retry... (informational, not signed)
    X-FaceGate-Signature: sha256=<hex>  HMAC-SHA256 with webhook_secret over "<timestamp>.<idempotency key>." + body

The receiver's rule (MAX_AGE_S = N):
1. No valid signature (another secret, a changed body, time or key; a captured request sent again with a new
   key): `WebhookRefused`. Answer 401 and do nothing.
2. Signed, but its time is more than N s away from the receiver's clock: `LateRequest` (a kind of
   WebhookRefused, carrying the checked request). The event is genuine but late (the receiver or the network
   was down; or it is a captured request replayed after N s): act on nothing (no door opens on an old grant),
   keep it as a record if you like, and answer 2xx, or the kiosk sends it again for ever.
3. Otherwise remember its key until its timestamp + N s. A key seen again in that time is a retry of an event
   already handled (or a replay): answer 2xx, do nothing. A key can then be forgotten: a request carrying it
   is refused by rule 2.
The kiosk's and the receiver's clocks must agree to well under N s (NTP).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# A request whose signed time is further than this from the receiver's clock is late (rule 2). Long enough for
# the kiosk's first retries (1, 2, 4 ... s) and ordinary clock differences; short enough that a grant is not
# acted on a minute after the person stood at the door.
MAX_AGE_S = 30.0

KEY_HEADER = "Idempotency-Key"
TIMESTAMP_HEADER = "X-FaceGate-Timestamp"
ATTEMPT_HEADER = "X-FaceGate-Attempt"
SIGNATURE_HEADER = "X-FaceGate-Signature"


def signature(secret: str, timestamp: str, key: str, body: bytes) -> str:
    """The X-FaceGate-Signature value: the time, the idempotency key and the body, signed together."""
    signed = timestamp.encode("ascii") + b"." + key.encode("utf-8") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def timestamp_text(epoch: float) -> str:
    """X-FaceGate-Timestamp for an event made at `epoch` (unix seconds, with milliseconds)."""
    return f"{epoch:.3f}"


@dataclass(frozen=True)
class SignedRequest:
    """A request whose signature checked out."""

    key: str  # Idempotency-Key
    timestamp: float  # the event's own time, unix seconds
    attempt: int  # X-FaceGate-Attempt (0 when absent)
    payload: dict[str, Any]  # the JSON body


class WebhookRefused(ValueError):
    """The request is not to be acted on; `reason` says why in plain words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class LateRequest(WebhookRefused):
    """Correctly signed, but made more than max_age_s from now (rule 2): genuine, too old to act on."""

    def __init__(self, request: SignedRequest, age_s: float, max_age_s: float):
        super().__init__(f"made {age_s:.1f} s from the receiver's time, more than {max_age_s:g} s: too late to act "
                         "on (answer 2xx, act on nothing)")
        self.request, self.age_s = request, age_s


def verify(headers: Mapping[str, str], body: bytes, secret: str, now: float,
           max_age_s: float = MAX_AGE_S) -> SignedRequest:
    """Check a request by the rule above: returns the SignedRequest to act on (once per key: remembering keys is
    the receiver's part, rule 3), or raises WebhookRefused (bad or missing signature) or LateRequest (signed, too
    old or too far ahead). `headers`: any mapping of the request's headers (names in any case); `now`: the
    receiver's unix time."""
    if not secret:
        raise ValueError("verify needs the webhook_secret the kiosk signs with")
    named = {str(name).lower(): value for name, value in headers.items()}
    key, stamp = named.get(KEY_HEADER.lower(), ""), named.get(TIMESTAMP_HEADER.lower(), "")
    given = named.get(SIGNATURE_HEADER.lower(), "")
    if not (key and stamp and given):
        missing = [n for n, v in ((KEY_HEADER, key), (TIMESTAMP_HEADER, stamp), (SIGNATURE_HEADER, given)) if not v]
        raise WebhookRefused(f"not a signed FaceGate request: no {', '.join(missing)}")
    try:
        expected = signature(secret, stamp, key, body)
    except UnicodeEncodeError as exc:
        raise WebhookRefused(f"{TIMESTAMP_HEADER} is not a number") from exc
    if not hmac.compare_digest(expected, given):
        raise WebhookRefused("the signature does not match the body, time and key (another secret, or changed)")
    try:
        timestamp = float(stamp)
        payload = json.loads(body)
    except ValueError as exc:  # signed with the secret, yet unreadable: not from a FaceGate kiosk of this version
        raise WebhookRefused(f"signed, but its time or body cannot be read ({exc})") from exc
    if not math.isfinite(timestamp) or not isinstance(payload, dict):
        raise WebhookRefused("signed, but its time or body is not what a kiosk sends")
    if payload.get("key", key) != key:
        raise WebhookRefused("the Idempotency-Key is not the event's own key")
    try:
        attempt = int(named.get(ATTEMPT_HEADER.lower(), "0"))
    except ValueError:
        attempt = 0  # informational only
    request = SignedRequest(key, timestamp, attempt, payload)
    age = now - timestamp
    if abs(age) > max_age_s:
        raise LateRequest(request, age, max_age_s)
    return request
