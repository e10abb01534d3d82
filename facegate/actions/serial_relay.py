"""A serial (USB) relay as a fail-secure door command: open now, close by itself after N seconds.

    python -m facegate.actions.serial_relay DEVICE SECONDS [--open HEX] [--close HEX] [--baud N] [--state FILE]

Cheap USB relays (LCUS-1 and the like, CH340 serial) only know "on" and "off". This writes "on", starts a detached
timer process that writes "off" at the end of the pulse, and returns at once: the pulse then ends whatever
happens to FaceGate (crash, kill, Ctrl+C). A second call during a pulse moves the end later (the state file holds
the current end; a timer whose end was superseded does nothing). SECONDS 0 writes "off" now. The defaults are
LCUS-1's commands (A0 01 01 A2 on, A0 01 00 A1 off). POSIX only (termios, fork).

The door action runs this for `door_serial` (facegate/actions/__init__.py), exactly as it runs a `door_command`.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import sys
import termios
import time
from pathlib import Path

LCUS_OPEN, LCUS_CLOSE = "A00101A2", "A00100A1"
_BAUDS = {1200: termios.B1200, 2400: termios.B2400, 4800: termios.B4800, 9600: termios.B9600,
          19200: termios.B19200, 38400: termios.B38400, 57600: termios.B57600, 115200: termios.B115200}


def state_file(device: str) -> Path:
    """Where the end of the current pulse on `device` is kept (beside nothing secret: a time only)."""
    from facegate.config import default_data_dir

    return default_data_dir() / f".relay-{device.strip('/').replace('/', '_')}.until"


def write(device: str, data: bytes, baud: int) -> None:
    fd = os.open(device, os.O_RDWR | os.O_NOCTTY)
    try:
        if os.isatty(fd):
            attrs = termios.tcgetattr(fd)
            attrs[0] = 0  # iflag: raw
            attrs[1] = 0  # oflag: raw (no newline translation)
            attrs[2] = termios.CS8 | termios.CREAD | termios.CLOCAL
            attrs[3] = 0  # lflag: no echo, not canonical
            attrs[4] = attrs[5] = _BAUDS[baud]
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        os.write(fd, data)
        if os.isatty(fd):
            termios.tcdrain(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


def _read_until(fd: int) -> float:
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        return float(os.read(fd, 64).decode() or 0)
    except ValueError:
        return 0.0


def _write_until(fd: int, until: float) -> None:
    os.lseek(fd, 0, os.SEEK_SET)
    os.ftruncate(fd, 0)
    os.write(fd, repr(until).encode())
    os.fsync(fd)


def pulse(device: str, seconds: float, open_cmd: bytes, close_cmd: bytes, baud: int, state: Path) -> None:
    if seconds <= 0:
        with _locked(state) as fd:
            _write_until(fd, 0.0)
            write(device, close_cmd, baud)
        return
    until = time.time() + seconds
    with _locked(state) as fd:
        _write_until(fd, max(until, _read_until(fd)))
        write(device, open_cmd, baud)
    if os.fork() == 0:  # the timer: its own session, no terminal, lives on without FaceGate
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for stream in (0, 1, 2):
            os.dup2(null, stream)
        try:
            time.sleep(max(0.0, until - time.time()))
            with _locked(state) as fd:
                current = _read_until(fd)
                if 0 < current <= time.time() + 0.005:  # not extended by a later pulse, not closed already
                    _write_until(fd, 0.0)
                    write(device, close_cmd, baud)
        finally:
            os._exit(0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("device")
    parser.add_argument("seconds", type=float)
    parser.add_argument("--open", default=LCUS_OPEN, help="bytes that switch the relay on, in hex")
    parser.add_argument("--close", default=LCUS_CLOSE, help="bytes that switch it off, in hex")
    parser.add_argument("--baud", type=int, default=9600, choices=sorted(_BAUDS))
    parser.add_argument("--state", type=Path, help="file holding the end of the pulse (default: in the data folder)")
    args = parser.parse_args(argv)
    try:
        open_cmd, close_cmd = bytes.fromhex(args.open), bytes.fromhex(args.close)
    except ValueError:
        print("error: --open and --close are bytes in hex, e.g. A00101A2", file=sys.stderr)
        return 2
    try:
        pulse(args.device, args.seconds, open_cmd, close_cmd, args.baud, args.state or state_file(args.device))
    except OSError as exc:
        print(f"error: relay {args.device}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
