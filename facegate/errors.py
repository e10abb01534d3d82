"""Errors that reach the user: each message says what went wrong and what to do about it."""

from __future__ import annotations

from pathlib import Path


class FaceGateError(Exception):
    """Base class for every error FaceGate raises on purpose."""


class ModelFileError(FaceGateError):
    """A weight file is missing, altered, truncated or not what the reader expects."""


class GalleryError(FaceGateError):
    """The enrolled-faces folder or one of its photos cannot be used as asked."""


class ImageError(FaceGateError):
    """An image file cannot be read or decoded.

    str(error) is "<path>: <reason>"; `path` and `reason` are also kept apart, for lists that already show the
    file name (the gallery's problem photos)."""

    def __init__(self, message: str, path: str | Path | None = None, reason: str | None = None):
        super().__init__(message)
        self.path = Path(path) if path is not None else None
        self.reason = reason if reason is not None else message


class ConfigError(FaceGateError):
    """The settings file cannot be used: unreadable, not JSON, unknown keys, wrong types or unsafe values.
    The message names the file, each key at fault and its allowed values."""
