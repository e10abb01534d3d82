"""Is this Qt binding safe to run for months? A check of the one defect that kills the window.

PySide6-Essentials 6.12.0 returns None (and True/False) from Qt calls without taking a reference for the caller;
every such call takes one reference from the interpreter's own. On Python 3.10/3.11 None's count (about 200,000
when the window opens) reaches zero within minutes of live video and the interpreter aborts ("none_dealloc").
On Python 3.12+ these objects are immortal, so the same binding is harmless there. pyproject.toml keeps such a
release out; this check turns a crash minutes later into a message at start when one gets in anyway. (References
gained rather than lost, as with 6.10-6.11, cannot crash the window: only tests/test_window_soak.py looks for them.)
"""

from __future__ import annotations

import sys

from facegate.errors import FaceGateError

SUPPORTED = "PySide6-Essentials>=6.8,<6.10"  # as pyproject.toml


def lost_references(calls: int = 256) -> int:
    """References to None that `calls` void Qt calls failed to give back (0 for a sound binding)."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(calls):
        probe.setObjectName("probe")
    lost = before - sys.getrefcount(None)
    del probe
    return max(0, lost)


def check_qt_binding(calls: int = 256) -> None:
    """Raise FaceGateError, saying how to fix it, when the installed binding leaks references."""
    lost = lost_references(calls)
    if lost >= calls // 2:
        import PySide6

        raise FaceGateError(
            f"The installed Qt binding (PySide6 {PySide6.__version__} on Python {sys.version.split()[0]}) loses a "
            f"reference on every call ({lost} in {calls} calls): the window would abort within minutes. "
            f"Install a supported release into FaceGate's environment: "
            f"{sys.executable} -m pip install \"{SUPPORTED}\"")
