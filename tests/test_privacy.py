"""Privacy and security, end to end on real files: owner-only storage (library and CLI, under a permissive
umask), erasure that leaves nothing of a person on disk, snapshot retention, the admin PIN, verified weights and
the threshold's safe bound."""

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from facegate.access_log import AccessEvent, AccessLog
from facegate.admin import MAX_LOCKOUT_S, AdminPin
from facegate.config import SAFE_MAX_THRESHOLD, Settings, check_safe, load_settings, save_settings
from facegate.errors import FaceGateError
from facegate.gallery import Gallery
from facegate.imageio import load_image

NAME = "Lin-Manuel Miranda"
OTHER = "Barack Obama"
CLIP = "short_hamilton_clip.mp4"
DAY = 86400.0
PERMISSIVE_UMASK = 0o022


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _assert_owner_only(root: Path) -> list[Path]:
    """Every folder under `root` (and `root`) is 0700, every file 0600. Returns the paths checked."""
    paths = [root, *sorted(root.rglob("*"))]
    wrong = [(str(p), oct(_mode(p))) for p in paths
             if _mode(p) != (0o700 if p.is_dir() else 0o600)]
    assert wrong == []
    return paths


def _set_umask():
    os.umask(PERMISSIVE_UMASK)


def facegate(*args, home: Path, timeout=300):
    """The real `facegate` command in a child process whose umask lets group and others read."""
    env = dict(os.environ, FACEGATE_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "facegate", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, preexec_fn=_set_umask)


@pytest.fixture()
def permissive_umask():
    old = os.umask(PERMISSIVE_UMASK)
    try:
        yield
    finally:
        os.umask(old)


def _face(seed: int, size: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


def _event(when: float, track: int, person: str | None = "Ann") -> AccessEvent:
    return AccessEvent(time=when, track_id=track, person=person, distance=0.3, margin=0.1,
                       decision="granted" if person else "unknown", snapshot=_face(track))


# ------------------------------------------------------------------------------------- the CLI kiosk
@pytest.fixture(scope="module")
def cli_kiosk(tmp_path_factory, clips):
    """Two people enrolled with `facegate enroll`, then the clip through `facegate run --headless` with the
    access log on: the way an installer sets up a kiosk. Every child runs under umask 022."""
    root = tmp_path_factory.mktemp("kiosk")
    data = root / "data"
    data.mkdir(mode=0o755)
    gallery, log_dir, home = data / "gallery", data / "log", root / "home"
    for name, photos in ((NAME, [clips / "lin-manuel-miranda.png"]),
                         (OTHER, [clips / "obama.jpg", clips / "obama2.jpg"])):
        result = facegate("enroll", "--gallery", gallery, "--name", name, *photos, home=home)
        assert result.returncode == 0, result.stderr[-2000:]
    result = facegate("run", "--headless", "--fast", "--no-speech", "--liveness", "off", "--source", clips / CLIP,
                      "--gallery", gallery, "--log-dir", log_dir, home=home, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    decisions = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"type": "decision"')]
    assert [d["name"] for d in decisions if d["decision"] == "granted"] == [NAME]
    return data


def test_cli_creates_everything_owner_only(cli_kiosk):
    paths = _assert_owner_only(cli_kiosk / "gallery")
    assert {p.name for p in paths if p.is_dir()} >= {"gallery", NAME, OTHER}
    files = [p.name for p in paths if p.is_file()]
    assert len(files) == 4 and ".facegate-gallery" in files  # the 3 photos, and the marker (owner-only too)
    cache = cli_kiosk / ".gallery.embeddings.npz"
    assert cache.is_file() and _mode(cache) == 0o600
    paths = _assert_owner_only(cli_kiosk / "log")
    names = {p.name for p in paths}
    assert {"access.sqlite3", "snapshots", "access.lock"} <= names
    assert any(p.suffix == ".jpg" for p in paths) and any(p.parent.name == "snapshots" for p in paths)
    assert {p.name for p in cli_kiosk.iterdir()} == {"gallery", "log", ".gallery.embeddings.npz"}


def test_library_creates_everything_owner_only(tmp_path, engine, clips, permissive_umask):
    assert os.umask(PERMISSIVE_UMASK) == PERMISSIVE_UMASK  # the code below runs under a permissive umask
    gallery = Gallery(tmp_path / "gallery", engine)
    gallery.enroll(NAME, [clips / "lin-manuel-miranda.png"])
    gallery.enroll(OTHER, [load_image(clips / "obama.jpg")])  # a snapshot (array) as the UI enrolls it
    assert len(_assert_owner_only(tmp_path / "gallery")) == 6  # 3 folders, 2 photos, the gallery marker
    assert _mode(gallery.cache_path) == 0o600

    log = AccessLog(tmp_path / "log")
    try:
        assert log.record(_event(time.time(), 1, NAME)) and log.flush(10)
        assert log.export_csv(tmp_path / "log" / "export.csv") == 1
    finally:
        log.close()
    paths = _assert_owner_only(tmp_path / "log")
    assert len([p for p in paths if p.suffix == ".jpg"]) == 1 and any(p.name == "access.sqlite3" for p in paths)

    pin = AdminPin(tmp_path / "home" / "admin.json")
    pin.set_pin("482611")
    save_settings(Settings(), tmp_path / "home" / "config.json")
    assert len(_assert_owner_only(tmp_path / "home")) == 3


# ------------------------------------------------------------------------------------- erasure
def test_erasing_a_person_leaves_nothing_of_them_on_disk(cli_kiosk, tmp_path, engine, clips):
    data = tmp_path / "data"
    shutil.copytree(cli_kiosk, data)  # this test changes the kiosk; the others see it as the CLI left it
    gallery = Gallery(data / "gallery", engine)
    gallery.refresh()
    assert sorted(gallery.people) == sorted([NAME, OTHER])
    photos = {p.read_bytes() for p in gallery.photos()[NAME]}
    photo_hashes = {hashlib.sha256(b).hexdigest() for b in photos}
    embedding, problem = gallery.analyse_photo(load_image(clips / "lin-manuel-miranda.png"))
    assert problem == ""
    log = AccessLog(data / "log")
    his_rows = log.recent(limit=None, person=NAME)
    snapshots = {row.snapshot.read_bytes() for row in his_rows if row.snapshot is not None}
    others = [row for row in log.recent(limit=None) if row.person != NAME]
    assert [row.decision for row in his_rows] == ["granted"] and len(snapshots) == 1
    assert others and any(row.snapshot for row in others)

    def cached_rows() -> np.ndarray:
        with np.load(gallery.cache_path, allow_pickle=False) as cache:
            return cache["embeddings"]

    def all_files() -> list[Path]:  # gallery, its cache, the log with its WAL and shm, the snapshots
        return [p for p in data.rglob("*") if p.is_file()]

    def traces() -> list[str]:
        found = []
        for path in all_files():
            content = path.read_bytes()
            if content in photos or content in snapshots:
                found.append(f"{path}: a copy of his photo or snapshot")
            for text in (NAME, "Miranda", *photo_hashes):
                if text in str(path.relative_to(data)) or text[:16] in path.name:
                    found.append(f"{path}: {text!r} in the path")
                for encoded in (text.encode("utf-8"), text.encode("utf-16-le"), text.encode("utf-32-le")):
                    if encoded in content:
                        found.append(f"{path}: {text!r} in the bytes")
            if his_row_bytes in content:
                found.append(f"{path}: his embedding's bytes")
        return found

    # Before: the checks below can see him (his cached embedding within 1e-3 of a fresh one; his name in the log)
    distances = np.abs(cached_rows() - embedding[None]).max(axis=1)
    assert distances.min() < 1e-3
    his_row_bytes = cached_rows()[int(distances.argmin())].astype(np.float32).tobytes()
    assert len(traces()) >= 4

    assert gallery.remove(NAME) == 1
    assert log.erase_person(NAME, snapshots=True) == 1
    log.close()

    assert gallery.people == [OTHER]
    assert traces() == []
    assert np.abs(cached_rows() - embedding[None]).max(axis=1).min() > 1e-3
    assert len(cached_rows()) == 2  # the other person's two photos stay
    reopened = AccessLog(data / "log")
    try:
        assert reopened.recent(limit=None, person=NAME) == []
        assert len(reopened.recent(limit=None)) == len(others)  # everyone else's decisions stay
    finally:
        reopened.close()
    assert traces() == []


# ------------------------------------------------------------------------------------- retention
def test_snapshots_past_retention_are_purged_at_once_and_then_periodically(tmp_path):
    now = time.time()
    log = AccessLog(tmp_path / "log")
    try:
        ages = {1: 40 * DAY, 2: 31 * DAY, 3: 30 * DAY - 4.0, 4: 29 * DAY, 5: 60.0}  # track -> age (s)
        for track, age in ages.items():
            assert log.record(_event(now - age, track))
        assert log.flush(10)
        files = {row.track_id: row.snapshot for row in log.recent(limit=None)}
        assert all(path.is_file() for path in files.values())

        log.keep_snapshots_for(30, every_s=0.25)
        deadline = time.monotonic() + 20
        while (files[1].exists() or files[2].exists()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not files[1].exists() and not files[2].exists()  # at once
        assert not files[1].parent.exists()  # the emptied day folder too
        assert files[3].is_file() and files[4].is_file() and files[5].is_file()
        while files[3].exists() and time.monotonic() < deadline:  # 4 s later it is past 30 days
            time.sleep(0.05)
        assert not files[3].exists()
        assert files[4].is_file() and files[5].is_file()
        rows = {row.track_id: row.snapshot for row in log.recent(limit=None)}
        assert len(rows) == 5 and rows[1] is None and rows[3] is None and rows[4] == files[4]  # rows stay
        while log.purged < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert log.purged == 3
        with pytest.raises(ValueError):
            log.keep_snapshots_for(0)
    finally:
        log.close()
    assert not log._retention_thread.is_alive()  # close() stopped it
    assert files[4].is_file()


def test_the_window_purges_at_start_and_after_a_settings_change(tmp_path, qtbot, monkeypatch):
    from facegate.ui.main_window import MainWindow

    monkeypatch.setenv("FACEGATE_HOME", str(tmp_path / "home"))
    now = time.time()
    with AccessLog(tmp_path / "log") as log:
        for track, age in {1: 45 * DAY, 2: 10 * DAY, 3: 60.0}.items():
            log.record(_event(now - age, track))
        log.flush(10)
        files = {row.track_id: row.snapshot for row in log.recent(limit=None)}
    settings = Settings(log_dir=str(tmp_path / "log"), speech=False, log_retention_days=30.0)
    window = MainWindow(settings, settings_path=tmp_path / "home" / "config.json", load_models=False)
    qtbot.addWidget(window)
    try:
        window._open_sinks()  # what the window does once the models are ready
        qtbot.waitUntil(lambda: not files[1].exists(), timeout=10_000)
        assert files[2].is_file() and files[3].is_file()
        window.settings = replace(settings, log_retention_days=7.0)
        window._open_sinks()  # apply_settings() ends with this: the new retention holds at once
        qtbot.waitUntil(lambda: not files[2].exists(), timeout=10_000)
        assert files[3].is_file()
    finally:
        window.shutdown()


# ------------------------------------------------------------------------------------- admin PIN
def test_admin_pin_is_a_slow_salted_hash(tmp_path):
    pin_text = "90817263545"
    path = tmp_path / "home" / "admin.json"
    admin = AdminPin(path)
    admin.set_pin(pin_text)
    first = json.loads(path.read_text())
    stored = path.read_bytes()
    assert _mode(path) == 0o600
    for start in range(len(pin_text) - 5):  # no 6-digit piece of the PIN anywhere in the file
        assert pin_text[start:start + 6].encode() not in stored
    assert first["hash"] not in {hashlib.sha256(pin_text.encode()).hexdigest(),
                                 hashlib.sha256(bytes.fromhex(first["salt"]) + pin_text.encode()).hexdigest()}
    admin.set_pin(pin_text)
    second = json.loads(path.read_text())
    assert second["salt"] != first["salt"] and second["hash"] != first["hash"]  # salted
    assert len(bytes.fromhex(second["salt"])) >= 16

    started = time.perf_counter()
    assert admin.check(pin_text).ok
    assert time.perf_counter() - started >= 0.02  # a slow hash, not a fast one
    assert not admin.check("90817263546").ok


def test_the_pin_is_too_costly_to_guess_offline(tmp_path):
    """Issue 15, item 10: 4 digits at scrypt N=2^14 fell to an offline search of a copied admin.json in about half
    an hour. New PINs have at least 6 digits and cost N=2^17 a guess (benchmarks/pin_cost.py: days for all of them);
    a PIN set before still opens, and is stored again at today's cost when it is entered."""
    from facegate.admin import SCRYPT

    path = tmp_path / "admin.json"
    admin = AdminPin(path)
    with pytest.raises(FaceGateError, match="at least 6 digits"):
        admin.set_pin("2468")
    assert not path.exists()
    admin.set_pin("246813")
    assert json.loads(path.read_text())["params"] == SCRYPT and SCRYPT["n"] >= 2 ** 17
    # A 4-digit PIN hashed at the old cost, as the previous version stored it:
    salt = os.urandom(16)
    old = {"n": 2 ** 14, "r": 8, "p": 1}
    digest = hashlib.scrypt(b"2468", salt=salt, dklen=32, maxmem=64 * 1024 * 1024, **old)
    path.write_text(json.dumps({"salt": salt.hex(), "hash": digest.hex(), "params": old, "failures": 0,
                                "locked_until": 0.0}))
    entered = admin.check("2468")
    assert entered.ok and "only 4 digits; set one of 6 or more" in entered.message
    upgraded = json.loads(path.read_text())
    assert upgraded["params"] == SCRYPT and upgraded["salt"] != salt.hex()  # re-hashed at the new cost
    assert admin.check("2468").ok and not admin.check("2469").ok


def test_wrong_pins_lock_out_for_longer_and_longer_across_restarts(tmp_path):
    path, pin = tmp_path / "admin.json", "246813"
    AdminPin(path).set_pin(pin)
    t = 1_000_000.0
    admin = AdminPin(path)
    assert admin.check("1111", now=t).wait_s == 0
    assert admin.check("1112", now=t).wait_s == 0
    third = admin.check("1113", now=t)
    assert not third.ok and third.wait_s > 0
    first_wait = third.wait_s

    during = admin.check(pin, now=t + first_wait / 2)  # the right PIN during the lockout: refused
    assert not during.ok and during.wait_s > 0 and "Try again" in during.message
    restarted = AdminPin(path)  # the app restarted: the lockout is still there
    assert not restarted.check(pin, now=t + first_wait / 2).ok

    t += first_wait + 0.1
    fourth = restarted.check("1114", now=t)
    assert not fourth.ok and fourth.wait_s > first_wait  # grows
    assert not AdminPin(path).check(pin, now=t + fourth.wait_s - 0.1).ok
    t += fourth.wait_s + 0.1
    fifth = AdminPin(path).check("1115", now=t)
    assert fifth.wait_s > fourth.wait_s
    backwards = AdminPin(path).check(pin, now=t - 10 * DAY)  # clock set back: still locked, never for days
    assert not backwards.ok and 0 < backwards.wait_s <= MAX_LOCKOUT_S

    t = t - 10 * DAY + MAX_LOCKOUT_S + 0.1
    assert AdminPin(path).check(pin, now=t).ok  # the wait passed: the right PIN opens
    assert AdminPin(path).check("1111", now=t).wait_s == 0  # and the count started again


# ------------------------------------------------------------------------------------- weights, threshold
def test_a_swapped_weight_file_is_refused(tmp_path):
    from facegate.errors import ModelFileError
    from facegate.vision.weights import DLIB_RESNET, locate, verify

    installed = locate(DLIB_RESNET)
    copy = tmp_path / installed.name
    shutil.copyfile(installed, copy)
    assert verify(DLIB_RESNET, copy) == copy  # the genuine bytes pass
    data = bytearray(copy.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4] = bytes(b ^ 0xFF for b in data[middle:middle + 4])  # same size, four bytes flipped
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="SHA-256"):
        verify(DLIB_RESNET, copy)
    copy.write_bytes(bytes(data[:middle]))  # truncated
    with pytest.raises(ModelFileError):
        verify(DLIB_RESNET, copy)

    result = facegate("check", home=tmp_path / "home")
    from facegate.vision.weights import ALL_WEIGHTS

    expected = len(ALL_WEIGHTS) + 1  # each weight file and the Qt binding
    assert result.returncode == 0 and result.stdout.count("ok ") == expected, result.stdout + result.stderr


def test_threshold_looser_than_the_safe_bound_needs_an_explicit_override(tmp_path, clips):
    assert SAFE_MAX_THRESHOLD <= 0.6
    check_safe(Settings(threshold=SAFE_MAX_THRESHOLD))
    with pytest.raises(FaceGateError, match="safe bound"):
        check_safe(Settings(threshold=0.65))
    check_safe(Settings(threshold=0.65, allow_loose_threshold=True))

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"threshold": 0.65}))
    with pytest.raises(FaceGateError, match="allow_loose_threshold"):
        load_settings(config)
    config.write_text(json.dumps({"threshold": 0.65, "allow_loose_threshold": True}))
    assert load_settings(config).threshold == 0.65

    home = tmp_path / "home"
    result = facegate("run", "--headless", "--threshold", "0.7", "--source", clips / CLIP, "--gallery",
                      tmp_path / "gallery", "--no-log", "--no-speech", home=home)
    assert result.returncode == 2 and "safe bound" in result.stderr and "Traceback" not in result.stderr
    result = facegate("identify", "--threshold", "0.7", "--gallery", tmp_path / "gallery", clips / "obama.jpg",
                      home=home)
    assert result.returncode == 2 and "safe bound" in result.stderr
    assert not (tmp_path / "gallery").exists() and not home.exists()  # refused before anything was created
