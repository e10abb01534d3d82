"""What a long run watches in its own process (Linux /proc): memory, OS threads, open descriptors."""

from __future__ import annotations

import os


def status_value(key: str) -> int:
    """A number from /proc/self/status (VmRSS in kB, Threads, ...); -1 when the key is absent."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def count_fds() -> int:
    """Open descriptors, not counting a snapshot caught half-written (its temp file is open for a moment)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile (or the listing's own descriptor)
            continue
        count += not target.endswith(".tmp")
    return count
