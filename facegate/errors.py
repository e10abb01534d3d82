"""Errors that reach the user: each message says what went wrong and what to do about it."""


class FaceGateError(Exception):
    """Base class for every error FaceGate raises on purpose."""


class ModelFileError(FaceGateError):
    """A weight file is missing, altered, truncated or not what the reader expects."""


class GalleryError(FaceGateError):
    """The enrolled-faces folder or one of its photos cannot be used as asked."""


class ImageError(FaceGateError):
    """An image file cannot be read or decoded."""
