"""Crash-safe, owner-only file writes. Biometric data never sits half-written or world-readable.

A write goes to a hidden temp file beside its target (`.<name>.<random>.tmp`), is flushed to the disk, and
only then renamed over the target: a crash (power cut, SIGKILL) at any moment leaves the old file or the new
one whole, plus at worst a hidden temp file, which readers never take for data (every reader of a FaceGate
folder skips dot-files) and `remove_stale_temp_files` deletes later.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
import time
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
TEMP_SUFFIX = ".tmp"
# What tempfile.mkstemp(prefix=".<name>.", suffix=".tmp") names a file: 8 characters from its own alphabet.
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def ensure_private_dir(path: Path) -> Path:
    path = Path(path)
    for parent in reversed(path.parents):  # missing parents too: mkdir(parents=True) would make them 0755
        if not parent.exists():
            with contextlib.suppress(FileExistsError):
                os.mkdir(parent, PRIVATE_DIR_MODE)
    path.mkdir(exist_ok=True, mode=PRIVATE_DIR_MODE)
    if (path.stat().st_mode & 0o777) != PRIVATE_DIR_MODE:  # chmod only when needed: it fails on read-only media
        os.chmod(path, PRIVATE_DIR_MODE)
    return path


def create_private_file(path: Path) -> Path:
    """Make sure `path` exists and is owner-only (a database before SQLite opens it: SQLite gives its -wal and
    -shm files the same mode)."""
    path = Path(path)
    if not path.exists():
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE))
    if (path.stat().st_mode & 0o777) != PRIVATE_FILE_MODE:
        os.chmod(path, PRIVATE_FILE_MODE)
    return path


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # not supported on this platform (Windows); the replace is still atomic
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):  # file systems that cannot sync a folder
            raise
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash at any moment leaves either the old or the new file whole.
    On failure (disk full, read-only, ...) the OSError is raised and no temp file is left behind."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), PRIVATE_FILE_MODE)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def is_temp_name(name: str) -> bool:
    """A name `atomic_write_bytes` gives its temp files (and no other: a user's `.notes.tmp` is not one)."""
    return bool(_TEMP_NAME.match(name))


def remove_stale_temp_files(folder: Path, prefix: str = "", min_age_s: float = 0.0) -> int:
    """Delete temp files left by writes that were killed half-way (never data the user saved).
    `prefix` limits it to the temp files of one target (`.<target name>.`); `min_age_s` spares the temp files of
    a write still in progress in another process. Returns how many were deleted; errors are ignored."""
    removed = 0
    now = time.time()
    try:  # names compared as text, not as glob patterns: a folder may be called "[Staff]"
        candidates = [p for p in Path(folder).iterdir() if is_temp_name(p.name) and p.name.startswith(f".{prefix}")]
    except OSError:
        return 0
    for tmp in candidates:
        try:
            if not tmp.is_file() or (min_age_s and now - tmp.stat().st_mtime < min_age_s):
                continue
            tmp.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def describe_os_error(exc: OSError) -> str:
    """The cause of a failed write in plain words."""
    plain = {errno.EROFS: "the folder is on a read-only file system",
             errno.EACCES: "permission denied", errno.EPERM: "permission denied",
             errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
             errno.EFBIG: "the file is larger than the system allows"}.get(exc.errno) if exc.errno is not None else None
    detail = exc.strerror or str(exc)
    return f"{plain} ({detail})" if plain else detail


def what_to_do(exc: OSError) -> str:
    """The advice that fits a failed write's cause."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "free some disk space, then try again."
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "make the folder writable (or choose another gallery folder in Settings), then try again."
    if exc.errno == errno.ENAMETOOLONG:
        return "use a shorter name, or a gallery folder with a shorter path."
    if exc.errno == errno.ENOTDIR:
        return "part of the gallery folder's path is a file, not a folder: choose another gallery folder."
    return "check the gallery folder, then try again."
