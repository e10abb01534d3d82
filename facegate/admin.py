"""The administrator PIN: stored as a slow salted hash (scrypt), with a growing delay after wrong attempts.

The delay survives a restart (it is stored with the hash), so closing and reopening the app does not give a
guesser fresh attempts. Offline (someone who copied admin.json) the delay does not apply: only the cost of each
guess and the number of PINs protect it. 6 digits at scrypt N=2^17 (about 0.35 s a guess on a 2-core kiosk, 128 MiB
each) make trying every PIN take days there (`benchmarks/pin_cost.py` measures it); 4 digits at the old N=2^14 fell
in about half an hour. A PIN set before keeps working and is re-hashed at the new cost when it is next entered.

What the PIN protects: the window's admin tools (enrolling, the people list, the access log, the settings, and
leaving kiosk mode). What it does not: the files themselves. The gallery, the log and the settings are readable
by the computer account that runs FaceGate (0700/0600, not encrypted); anyone logged in as that account, or with
the disk, can read or change them, and can delete admin.json to set a new PIN.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from facegate.errors import FaceGateError
from facegate.storage import atomic_write_bytes, ensure_private_dir

# scrypt cost for new hashes (128 MiB of memory per guess also slows a GPU down); see the module docstring.
SCRYPT = {"n": 2 ** 17, "r": 8, "p": 1}
SCRYPT_MAXMEM = 256 * 1024 * 1024
MIN_PIN_LENGTH = 6
MAX_LOCKOUT_S = 300.0


@dataclass
class PinCheck:
    ok: bool
    wait_s: float = 0.0  # > 0: locked out for this many more seconds
    message: str = ""


def _hash(pin: str, salt: bytes, params: dict) -> bytes:
    return hashlib.scrypt(pin.encode("utf-8"), salt=salt, dklen=32, maxmem=SCRYPT_MAXMEM, **params)


class AdminPin:
    def __init__(self, path: Path):
        self.path = Path(path)

    def is_set(self) -> bool:
        return self.path.is_file()

    def _load(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise FaceGateError(f"{self.path}: the admin PIN file is unreadable ({exc}). Delete it to set a new PIN "
                                "(this requires access to the computer's account).") from exc

    def _save(self, record: dict) -> None:
        ensure_private_dir(self.path.parent)
        atomic_write_bytes(self.path, json.dumps(record).encode())

    def set_pin(self, pin: str) -> None:
        if len(pin) < MIN_PIN_LENGTH or not pin.isdigit():
            raise FaceGateError(f"The PIN must be at least {MIN_PIN_LENGTH} digits (a shorter one can be found by "
                                "trying them all on a copy of its file in hours).")
        self._save(self._record(pin))

    @staticmethod
    def _record(pin: str) -> dict:
        salt = os.urandom(16)
        return {"salt": salt.hex(), "hash": _hash(pin, salt, SCRYPT).hex(), "params": SCRYPT, "failures": 0,
                "locked_until": 0.0}

    def check(self, pin: str, now: float | None = None) -> PinCheck:
        now = time.time() if now is None else now
        record = self._load()
        wait = float(record.get("locked_until", 0.0)) - now
        if wait > MAX_LOCKOUT_S:  # the clock was set back since: a lockout never lasts longer than the maximum
            wait = MAX_LOCKOUT_S
            record["locked_until"] = now + wait
            self._save(record)
        if wait > 0:
            return PinCheck(False, wait, f"Too many wrong PINs. Try again in {wait:.0f} s.")
        expected = bytes.fromhex(record["hash"])
        if hmac.compare_digest(_hash(pin, bytes.fromhex(record["salt"]), record["params"]), expected):
            if record.get("params") != SCRYPT:  # set at an older, cheaper cost: stored again at today's
                self._save(self._record(pin))
            elif record.get("failures"):
                record.update(failures=0, locked_until=0.0)
                self._save(record)
            short = len(pin) < MIN_PIN_LENGTH
            return PinCheck(True, message=f"This PIN has only {len(pin)} digits; set one of {MIN_PIN_LENGTH} or more."
                            if short else "")
        failures = record.get("failures", 0) + 1
        delay = 0.0 if failures < 3 else min(2.0 ** (failures - 2), MAX_LOCKOUT_S)  # 2, 4, 8 ... s
        record.update(failures=failures, locked_until=now + delay)
        self._save(record)
        message = "Wrong PIN." + (f" Wait {delay:.0f} s before the next try." if delay else "")
        return PinCheck(False, delay, message)
