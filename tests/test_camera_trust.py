"""A kiosk that drives a door sees the room through a physical camera (issue 28 item 1).

The Linux cases read copies of real /sys layouts (a UVC webcam on USB, a v4l2loopback device, akvcam, a board's
camera); this machine has no camera and cannot load a kernel module. The refusal and the demonstration stamp go
through the real CLI, the real door action (a relay program writing what it is told) and the real access log."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from facegate.camera_trust import SourceOrigin, _named_camera, assess_source
from facegate.capture import SourceKind, SourceSpec, parse_source
from facegate.config import Settings
from facegate.errors import FaceGateError
from facegate.kiosk import drives_door, require_trusted_source

CLIP = "short_hamilton_clip.mp4"


def _sysfs_camera(root: Path, index: int, device_path: str, name: str, driver: str | None) -> Path:
    """/sys/class/video4linux/videoN as the kernel lays it out: a link into /sys/devices, a `name` file and, for a
    device on a bus, a `device` link whose `driver` link names the driver."""
    devices = root / "devices"
    entry = devices / device_path / "video4linux" / f"video{index}"
    entry.mkdir(parents=True)
    (entry / "name").write_text(name + "\n")
    if driver is not None:
        drivers = root / "bus" / "drivers" / driver
        drivers.mkdir(parents=True, exist_ok=True)
        os.symlink(drivers, devices / device_path / "driver")
        os.symlink(devices / device_path, entry / "device")
    klass = root / "class" / "video4linux"
    klass.mkdir(parents=True, exist_ok=True)
    os.symlink(entry, klass / f"video{index}")
    return klass


@pytest.fixture
def sysfs(tmp_path):
    root = tmp_path / "sys"
    _sysfs_camera(root, 0, "pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0", "HD Pro Webcam C920", "uvcvideo")
    _sysfs_camera(root, 2, "virtual", "Dummy video device (0x0000)", None)  # v4l2loopback
    _sysfs_camera(root, 3, "platform/akvcam", "AkVCam Virtual Camera", "akvcam")
    _sysfs_camera(root, 4, "platform/fe801000.csi", "unicam", "unicam")  # a Raspberry Pi's camera port
    _sysfs_camera(root, 5, "pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0", "OBS Virtual Camera", "uvcvideo")
    return root / "class" / "video4linux"


def camera(index: int) -> SourceSpec:
    return SourceSpec(SourceKind.CAMERA, index)


def test_linux_usb_and_board_cameras_are_physical_virtual_ones_are_not(sysfs):
    usb = assess_source(camera(0), sysfs, "linux")
    assert usb.trusted and usb.name == "HD Pro Webcam C920" and "USB" in usb.evidence
    assert assess_source(camera(4), sysfs, "linux").trusted  # a board's camera interface
    for index in (2, 3, 5):  # v4l2loopback, akvcam, a loopback renamed after OBS on a USB path
        trust = assess_source(camera(index), sysfs, "linux")
        assert trust.origin is SourceOrigin.VIRTUAL_CAMERA and not trust.trusted, trust
    missing = assess_source(camera(7), sysfs, "linux")
    assert missing.origin is SourceOrigin.UNVERIFIED_CAMERA and not missing.trusted


def test_windows_and_mac_cameras_are_judged_by_the_name_the_system_lists():
    names = ["Integrated Webcam", "OBS Virtual Camera", "ManyCam Virtual Webcam", "Snap Camera"]
    assert _named_camera(0, names).trusted
    assert [_named_camera(i, names).origin for i in (1, 2, 3)] == [SourceOrigin.VIRTUAL_CAMERA] * 3
    assert _named_camera(9, names).origin is SourceOrigin.UNVERIFIED_CAMERA
    assert _named_camera(0, None).origin is SourceOrigin.UNVERIFIED_CAMERA


def test_files_folders_and_urls_are_never_a_trusted_camera(tmp_path, clips):
    for spec in (parse_source(clips / CLIP), parse_source(tmp_path), parse_source("rtsp://camera.local/stream")):
        assert not assess_source(spec).trusted


def test_a_door_is_refused_an_untrusted_source_unless_marked_as_a_demonstration(sysfs, clips):
    door = replace(Settings(), door_command="true")
    virtual = assess_source(camera(2), sysfs, "linux")
    for settings in (door, replace(Settings(), mqtt_url="mqtt://localhost"), replace(Settings(), door_serial="/dev/x"),
                     replace(Settings(), webhook_url="http://localhost/hook")):
        assert drives_door(settings)
        with pytest.raises(FaceGateError, match="physical camera"):
            require_trusted_source(settings, camera(2), virtual)
    with pytest.raises(FaceGateError, match="video file"):
        require_trusted_source(door, parse_source(clips / CLIP))
    # A greeting kiosk (no door) and a demonstration may use anything; a door with a physical camera is served.
    assert not drives_door(Settings())
    require_trusted_source(Settings(), parse_source(clips / CLIP))
    require_trusted_source(replace(door, demonstration=True), parse_source(clips / CLIP))
    require_trusted_source(door, camera(0), assess_source(camera(0), sysfs, "linux"))


ROOT = Path(__file__).resolve().parent.parent


def _run(args: list[str], tmp_path: Path, settings: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "config.json").write_text(json.dumps(settings))
    env = {**os.environ, "FACEGATE_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "facegate", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def test_cli_refuses_a_door_on_a_video_file_and_stamps_a_demonstration(tmp_path, clips):
    """The real `facegate run --headless`: refused in a moment with what to do; with --demonstration the grant
    opens the (real, scripted) relay, and the log row and the relay's message say DEMONSTRATION."""
    gallery = tmp_path / "gallery" / "Lin-Manuel Miranda"
    gallery.mkdir(parents=True)
    (gallery / "photo.png").write_bytes((clips / "lin-manuel-miranda.png").read_bytes())
    relay_out = tmp_path / "relay.txt"
    relay = f"{sys.executable} -c \"import sys; open({str(relay_out)!r}, 'a').write(' '.join(sys.argv[1:]) + chr(10))\""
    settings = {"door_command": relay + " open {seconds}", "liveness": "off", "speech": False}
    base = ["run", "--headless", "--fast", "--no-learning", "--gallery", str(tmp_path / "gallery"),
            "--source", str(clips / CLIP), "--log-dir", str(tmp_path / "log")]
    refused = _run(base, tmp_path, settings, timeout=60)
    assert refused.returncode != 0
    assert "physical camera" in refused.stderr and "--demonstration" in refused.stderr, refused.stderr
    assert not relay_out.exists()

    shown = _run(base + ["--demonstration"], tmp_path, settings)
    assert shown.returncode == 0, shown.stderr[-2000:]
    lines = [json.loads(line) for line in shown.stdout.splitlines() if line.startswith("{")]
    assert lines[0]["type"] == "demonstration" and lines[0]["origin"] == "video file"
    assert "open 3" in relay_out.read_text()
    rows = sqlite3.connect(tmp_path / "log" / "access.sqlite3").execute(
        "SELECT person, decision, details FROM decisions WHERE decision = 'granted'").fetchall()
    assert rows and all(json.loads(details)["demonstration"] is True for _, _, details in rows)
