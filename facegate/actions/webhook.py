"""Webhook: POST each decision as JSON, signed, with an idempotency key, from a durable outbox, with back-off.

Request headers (a receiver checks them with facegate.actions.webhook_verify.verify, which states its rule):
    Content-Type: application/json
    Idempotency-Key: <uuid>             the same for every retry of one event: keep the keys you have seen
    X-FaceGate-Timestamp: <unix s>      the event's own time (the decision's), the same for every retry
    X-FaceGate-Attempt: <n>             1, 2, 3 ... (not signed)
    X-FaceGate-Signature: sha256=<hex>  HMAC-SHA256 with webhook_secret over "<timestamp>.<key>." + body
A 2xx answer delivers the event; anything else (an error status, a refused connection, no answer within
webhook_timeout_s, a redirect) is retried after 1, 2, 4 ... s, at most webhook_retry_max_s apart, in order,
for as long as it takes (the outbox survives restarts).
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPMessage
from typing import IO

from facegate.actions.payload import redact_url, to_json
from facegate.actions.webhook_verify import (
    ATTEMPT_HEADER,
    KEY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
    timestamp_text,
)
from facegate.actions.worker import ActionEvent, ActionWorker, EventKind, HealthState
from facegate.outbox import Outbox, Pending, person_of

log = logging.getLogger(__name__)

# A delivery that took longer than this marks the receiver slow in the status bar.
SLOW_DELIVERY_S = 2.0
# Failures in a row after which the receiver counts as down, not just slow.
DOWN_AFTER_FAILURES = 3


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: HTTPMessage, newurl: str) -> None:
        return None  # a redirected POST would lose its body or go elsewhere: an error, retried


class WebhookAction(ActionWorker):
    name = "webhook"

    def __init__(self, url: str, secret: str, outbox: Outbox, *, timeout_s: float = 5.0,
                 retry_base_s: float = 1.0, retry_max_s: float = 300.0, **kwargs):
        super().__init__(**kwargs)
        self.url, self._secret, self.outbox = url, secret, outbox
        self.timeout_s, self.retry_base_s, self.retry_max_s = timeout_s, retry_base_s, retry_max_s
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"webhook_url {redact_url(url)} must be an http:// or https:// URL")
        self.shown_url = redact_url(url)
        self._opener = urllib.request.build_opener(_NoRedirects)
        self._failures = 0
        self._retry_at = 0.0
        self.delivered = 0
        if not secret:
            log.warning("webhook to %s has no webhook_secret: requests are not signed", self.shown_url)

    def handle(self, event: ActionEvent) -> None:
        if event.kind not in (EventKind.DECISION, EventKind.TAILGATING, EventKind.DOOR_SILENT):
            return
        self.outbox.add(event.key, to_json(event.payload))  # committed before the first attempt
        self.outcome(event, "queued", f"{len(self.outbox)} waiting")

    def idle(self) -> None:
        self.send_due()

    def next_wake(self) -> float:
        if self._failures:
            return max(0.01, min(self._idle_s, self._retry_at - time.monotonic()))
        return self._idle_s

    def send_due(self) -> None:
        """Send waiting events oldest first until one fails (then wait for the back-off) or none is left."""
        while not self.stopping and time.monotonic() >= self._retry_at:
            batch = self.outbox.oldest()
            if not batch:
                if self._failures == 0:
                    self.report(HealthState.OK)
                return
            for pending in batch:
                if self.stopping or not self._send(pending) or self.has_queued():
                    return  # stopping, failed (back-off), or new events to commit to the outbox first

    def _send(self, pending: Pending) -> bool:
        payload = pending.payload()
        # The event's own time, on every retry: a receiver sees how old it is (a grant delivered a minute late is
        # not acted on), and it is signed with the key, so neither can be changed or replayed under a new key.
        epoch = payload.get("epoch")
        timestamp = timestamp_text(epoch if isinstance(epoch, (int, float)) else pending.created)
        headers = {"Content-Type": "application/json", KEY_HEADER: pending.key, TIMESTAMP_HEADER: timestamp,
                   ATTEMPT_HEADER: str(pending.attempts + 1), "User-Agent": "FaceGate"}
        if self._secret:
            headers[SIGNATURE_HEADER] = signature(self._secret, timestamp, pending.key, pending.body)
        request = urllib.request.Request(self.url, data=pending.body, headers=headers, method="POST")
        started = time.monotonic()
        error = ""
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                response.read(65536)
                status = response.status
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:  # refused, unreachable, timed out
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            if isinstance(reason, TimeoutError):
                error = f"no answer within {self.timeout_s:g} s"
            else:
                error = f"cannot connect ({type(reason).__name__}: {getattr(reason, 'strerror', None) or reason})"
        took = time.monotonic() - started
        person = person_of(payload)
        if error:
            self._failures += 1
            delay = min(self.retry_max_s, self.retry_base_s * 2 ** (self._failures - 1))
            self._retry_at = time.monotonic() + delay
            self.outbox.failed(pending.key, error)
            waiting = len(self.outbox)
            log.warning("webhook %s: %s; %d event(s) waiting, next try in %.1f s", self.shown_url, error, waiting,
                        delay)
            self.row_outcome(pending.key, person, "retrying", f"{error}; attempt {pending.attempts + 1}")
            state = HealthState.DOWN if self._failures >= DOWN_AFTER_FAILURES else HealthState.SLOW
            self.report(state, f"receiver {error}; {waiting} waiting")
            return False
        self.outbox.delivered(pending.key)
        self.delivered += 1
        self._failures, self._retry_at = 0, 0.0
        self.row_outcome(pending.key, person, "delivered", f"{took * 1000:.0f} ms, attempt {pending.attempts + 1}")
        if took >= SLOW_DELIVERY_S:
            self.report(HealthState.SLOW, f"receiver slow ({took:.1f} s)")
        return True

    def close(self) -> None:
        waiting = len(self.outbox)
        if waiting:
            log.warning("webhook: %d event(s) not delivered yet; they are sent at the next start", waiting)
        self.outbox.close()
