"""Is a video source a physical camera? A kiosk that opens a door must see the room through one.

Every liveness cue reads the picture. A video file, an image folder, a network stream or a virtual camera
(v4l2loopback or akvcam on Linux; OBS, ManyCam, Snap Camera, XSplit and the like on Windows and macOS) lets an
attacker hand the kiosk any picture they like, rendered to answer its requests, with nothing held in front of the
lens: a 3D puppet from one photo, injected, passes checks that would catch it on a phone screen. So where the
kiosk drives a door, only a camera the operating system reports as physical hardware is accepted, unless the
administrator marks the kiosk as a demonstration (facegate/kiosk.py: require_trusted_source).

How a camera is told apart:
- Linux: OpenCV's camera N is /dev/videoN. A physical camera's entry in /sys/class/video4linux hangs off a bus
  (USB, PCI, a board's camera interface); a virtual one (v4l2loopback, akvcam, vivid) hangs off
  /sys/devices/virtual or a platform device whose driver is a known virtual one, and its name says so.
- Windows and macOS: the camera's name as Qt Multimedia lists it (in OpenCV's order) against the names virtual
  camera programs register. A camera whose name cannot be read is not verified, and is refused at a door.

What this does not stop: an attacker with control of the kiosk computer (they can load a driver that claims to be
a USB camera, or replace FaceGate), or a USB device that presents itself as a camera and carries a picture from
elsewhere (an HDMI-to-USB capture stick). A fixed mount and a locked case around the camera and computer do.
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass
from pathlib import Path

from facegate.capture import SourceKind, SourceSpec

VIDEO4LINUX = Path("/sys/class/video4linux")
# Kernel drivers that make a camera out of software.
VIRTUAL_DRIVERS = ("v4l2loopback", "v4l2 loopback", "akvcam", "vivid")
# Names that virtual camera programs give their camera (lower case; a camera whose name contains one is virtual).
VIRTUAL_NAMES = ("virtual", "loopback", "dummy video", "obs-camera", "manycam", "snap camera", "xsplit",
                 "splitcam", "e2esoft", "vcam", "camtwist", "mmhmm", "reincubate camo", "epoccam", "droidcam",
                 "iriun", "ndi webcam", "nvidia broadcast", "akvcam", "webcamoid", "logi capture", "streamlabs",
                 "youcam", "avatarify", "facerig", "sparkocam", "chromacam")


class SourceOrigin(str, enum.Enum):
    PHYSICAL_CAMERA = "physical camera"
    VIRTUAL_CAMERA = "virtual camera"
    UNVERIFIED_CAMERA = "camera that could not be verified"
    VIDEO_FILE = "video file"
    IMAGE_FOLDER = "folder of images"
    NETWORK_STREAM = "network stream"


@dataclass(frozen=True)
class SourceTrust:
    origin: SourceOrigin
    name: str = ""  # the camera's name as the system gives it, when known
    evidence: str = ""  # what the verdict rests on, for the message and the log

    @property
    def trusted(self) -> bool:
        return self.origin is SourceOrigin.PHYSICAL_CAMERA

    def describe(self) -> str:
        named = f" ({self.name})" if self.name else ""
        because = f": {self.evidence}" if self.evidence else ""
        return f"a {self.origin.value}{named}{because}"


def assess_source(spec: SourceSpec, video4linux: Path = VIDEO4LINUX, platform: str = sys.platform) -> SourceTrust:
    """Where the frames of `spec` come from. `video4linux` and `platform` are for reading another system's
    description (the tests keep copies of real sysfs layouts)."""
    if spec.kind is SourceKind.FILE:
        return SourceTrust(SourceOrigin.VIDEO_FILE)
    if spec.kind is SourceKind.FOLDER:
        return SourceTrust(SourceOrigin.IMAGE_FOLDER)
    if spec.kind is SourceKind.URL:
        return SourceTrust(SourceOrigin.NETWORK_STREAM, evidence="frames from the network can be anything")
    index = int(spec.target)
    if platform.startswith("linux"):
        return _linux_camera(index, video4linux)
    return _named_camera(index, _qt_camera_names())


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""


def _linux_camera(index: int, video4linux: Path) -> SourceTrust:
    entry = video4linux / f"video{index}"
    if not entry.exists():
        return SourceTrust(SourceOrigin.UNVERIFIED_CAMERA, evidence=f"{entry} does not exist")
    name = _read(entry / "name")
    device = entry / "device"
    driver = (device / "driver").resolve().name if (device / "driver").exists() else ""
    where = entry.resolve().as_posix()
    lowered = f"{name} {driver}".lower()
    if "/devices/virtual/" in where or not device.exists():
        return SourceTrust(SourceOrigin.VIRTUAL_CAMERA, name, "the kernel lists it as a virtual device, on no bus")
    if any(word in lowered for word in VIRTUAL_DRIVERS):
        return SourceTrust(SourceOrigin.VIRTUAL_CAMERA, name, f"its driver is {driver or 'a virtual one'}")
    if any(word in name.lower() for word in VIRTUAL_NAMES):
        return SourceTrust(SourceOrigin.VIRTUAL_CAMERA, name, "its name is a virtual camera's")
    bus = next((part for part in ("usb", "pci", "platform") if f"/{part}" in where), "")
    return SourceTrust(SourceOrigin.PHYSICAL_CAMERA, name,
                       f"on the {bus.upper() if bus != 'platform' else 'board'} bus, driver {driver or 'unknown'}")


def _qt_camera_names() -> list[str] | None:
    """The cameras' names in the system's order (Qt Multimedia), or None when they cannot be listed."""
    try:
        from PySide6.QtMultimedia import QMediaDevices
    except ImportError:
        return None
    try:
        return [device.description() for device in QMediaDevices.videoInputs()]
    except RuntimeError:
        return None


def _named_camera(index: int, names: list[str] | None) -> SourceTrust:
    if names is None or index >= len(names):
        return SourceTrust(SourceOrigin.UNVERIFIED_CAMERA, evidence="the system did not list its name")
    name = names[index]
    if any(word in name.lower() for word in VIRTUAL_NAMES):
        return SourceTrust(SourceOrigin.VIRTUAL_CAMERA, name, "its name is a virtual camera's")
    return SourceTrust(SourceOrigin.PHYSICAL_CAMERA, name, "listed by the system as a camera")
