"""What a dialog needs of the window that opened it: a small Protocol, so that the dialogs do not import the main
window (which imports them) and a reader sees exactly what they may touch."""

from __future__ import annotations

from typing import Protocol

from PySide6.QtWidgets import QWidget

from facegate.access_log import AccessLog
from facegate.config import Settings
from facegate.gallery import Gallery
from facegate.site.admin import SiteLog
from facegate.ui.bridge import SessionBridge
from facegate.vision.engine import FaceEngine


class DialogHost(Protocol):
    """The main window as the dialogs see it (facegate.ui.main_window.MainWindow is one)."""

    settings: Settings  # in force now
    engine: FaceEngine | None  # None until the models are loaded
    gallery: Gallery | None  # looked up each time: a new gallery folder in Settings swaps the object
    access_log: AccessLog | None  # None when the log folder cannot be used
    site_log: SiteLog | None  # with database_url: every door's log on the server
    bridge: SessionBridge  # the running kiosk's signals (the enrollment dialog watches the live frames)

    def gallery_changed(self) -> None:
        """A dialog changed the gallery: the window updates what it shows."""

    def apply_settings(self, settings: Settings) -> None:
        """Save and apply new settings (FaceGateError when they cannot be saved)."""

    def require_admin(self) -> bool:
        """Ask for the administrator PIN (unless given a moment ago); True when it was given. Every change asks."""


def host_widget(host: DialogHost) -> QWidget:
    """The host as the dialog's Qt parent."""
    assert isinstance(host, QWidget)  # the window is a widget; the Protocol names what the dialogs read of it
    return host
