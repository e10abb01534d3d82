"""Bad input, as people really produce it: every case gets a clear message that says what to do, the app and the
CLI keep running, and nothing the user saved is lost or corrupted.

Photos are real files made here with OpenCV, Pillow and NumPy from the shared test photos; faces are found by
the real engine; the CLI runs as a real process; the weight file is a real (damaged) copy of dlib's.

Decisions this file pins down:
- An animated GIF enrolls with its first frame (what the file shows before it plays).
- A transparent background is laid onto white; 16-bit and greyscale photos are converted, not refused.
- EXIF orientation is honoured for JPEG, PNG and WebP (as a phone or a photo viewer shows the photo).
- A 50-megapixel JPEG is decoded at a reduced scale straight away: quick, little memory, face still found.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import CountingEngine
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from facegate.errors import GalleryError, ImageError, ModelFileError
from facegate.gallery import CACHE_FORMAT, EMBEDDING_SIZE, Gallery
from facegate.imageio import MAX_FILE_BYTES, exif_orientation, load_image
from facegate.vision.dlibfile import parse_dlib_network
from facegate.vision.weights import DLIB_RESNET, verified_path, verify

PROJECT = Path(__file__).resolve().parent.parent
# A photo of the same person, converted: well inside the default threshold (0.5) of the original.
SAME_PERSON = 0.3


# ------------------------------------------------------------------------------------------------ helpers

def write_image(path: Path, image: np.ndarray, ext: str | None = None, params=()) -> Path:
    """cv2.imwrite that copes with non-ASCII paths; `image` is BGR/BGRA/grey as OpenCV writes it."""
    ok, data = cv2.imencode(ext or path.suffix, image, list(params))
    assert ok
    path.write_bytes(data.tobytes())
    return path


def with_exif_orientation(upright_rgb: np.ndarray, orientation: int, path: Path, **save) -> Path:
    """Store the pixels as a camera does for `orientation`, plus the tag that tells a viewer how to turn them."""
    inverse = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
               4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90,
               7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270}[orientation]
    image = Image.fromarray(upright_rgb)
    if inverse is not None:
        image = image.transpose(inverse)
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, exif=exif.tobytes(), **save)
    assert ImageOps.exif_transpose(Image.open(path)).size == (upright_rgb.shape[1], upright_rgb.shape[0])
    return path


def reason_of(path: Path, **kwargs) -> str:
    with pytest.raises(ImageError) as info:
        load_image(path, **kwargs)
    error = info.value
    assert str(error) == f"{path}: {error.reason}" and error.path == path  # the file is always named
    return error.reason


@pytest.fixture(scope="module")
def obama_rgb(clips) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(clips / "obama.jpg")), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def analyser(engine, tmp_path_factory):
    """gallery.analyse_photo: (embedding, "") for a usable enrollment photo, else (None, reason)."""
    return Gallery(tmp_path_factory.mktemp("unused"), engine).analyse_photo


@pytest.fixture(scope="module")
def obama_embedding(analyser, clips) -> np.ndarray:
    embedding, problem = analyser(load_image(clips / "obama.jpg"))
    assert problem == ""
    return embedding


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes: to prove that nothing the user saved was changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------------- files that are not photos

NOT_PHOTOS = {
    "notes.jpg": (b"Ada's badge photo is in the other folder.\nThanks!\n", "this is a text file"),
    "unicode-text.jpg": ("Zoë Ångström — 李小龍, photo to follow\n".encode(), "this is a text file"),
    "report.jpg": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + bytes(range(256)) * 40,
                   "PDF document"),
    "iphone.jpg": (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(4000), "HEIC"),
    "clip.jpg": (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + bytes(4000), "video"),
    "random.png": (np.random.default_rng(7).integers(0, 256, 5000, dtype=np.uint8).tobytes(), "not a readable"),
    "empty.jpg": (b"", "empty (0 bytes)"),
}


@pytest.mark.parametrize("name", sorted(NOT_PHOTOS))
def test_files_that_are_not_photos_say_what_they_are(tmp_path, name):
    content, words = NOT_PHOTOS[name]
    path = tmp_path / name
    path.write_bytes(content)
    reason = reason_of(path)
    assert words in reason
    assert reason.startswith("not a readable image") or name == "empty.jpg"
    assert re.search(r"; (save|export|choose|replace|take|unpack|convert)", reason) or "JPEG" in reason, reason


def test_office_document_named_as_a_photo(tmp_path):
    path = tmp_path / "badge.png"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    assert "ZIP archive or office document" in reason_of(path)


def test_paths_that_are_not_files(tmp_path):
    assert "No such file" in reason_of(tmp_path / "gone.jpg")
    (tmp_path / "folder.jpg").mkdir()
    assert "is a folder" in reason_of(tmp_path / "folder.jpg")
    if Path("/dev/zero").exists():  # would otherwise be read for ever
        assert "not a regular file" in reason_of(Path("/dev/zero"))


def test_a_file_far_too_big_for_a_photo_is_not_read(tmp_path):
    path = tmp_path / "disk-image.jpg"
    with open(path, "wb") as fh:  # sparse: costs no disk
        fh.write(b"\xff\xd8\xff\xe0")
        fh.truncate(MAX_FILE_BYTES + 1)
    started = time.perf_counter()
    assert "too large for a photo" in reason_of(path)
    assert time.perf_counter() - started < 1.0


def test_header_claiming_billions_of_pixels_is_refused_before_decoding(tmp_path):
    png = bytearray(cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    png[16:24] = (60_000).to_bytes(4, "big") * 2  # IHDR says 60000 x 60000 (10 GB once decoded)
    (tmp_path / "bomb.png").write_bytes(bytes(png))
    assert "3600 megapixels" in reason_of(tmp_path / "bomb.png")
    gif = bytearray(b"GIF89a" + bytes(20))
    gif[6:10] = (65_000).to_bytes(2, "little") * 2
    (tmp_path / "bomb.gif").write_bytes(bytes(gif))
    assert "megapixels" in reason_of(tmp_path / "bomb.gif")


# ------------------------------------------------------------------------------------------- damaged photos

def test_truncated_jpeg_and_png(tmp_path, clips):
    jpeg = (clips / "obama.jpg").read_bytes()
    for cut in (3, 200, 2000, len(jpeg) // 3, len(jpeg) // 2, len(jpeg) - 2):
        path = tmp_path / f"cut-{cut}.jpg"
        path.write_bytes(jpeg[:cut])
        reason = reason_of(path)
        assert "truncated" in reason or "not a readable image" in reason, reason
        assert "save it again as JPEG or PNG" in reason
    assert "truncated (an interrupted download or copy)" in reason_of(tmp_path / f"cut-{len(jpeg) // 2}.jpg")
    png = cv2.imencode(".png", cv2.imread(str(clips / "obama2.jpg")))[1].tobytes()
    for cut in (20, 100, len(png) // 2, len(png) - 12):
        path = tmp_path / f"cut-{cut}.png"
        path.write_bytes(png[:cut])
        assert "not a readable image" in reason_of(path)


def test_data_after_the_end_of_a_jpeg_is_fine(tmp_path, clips):
    """A "motion photo" carries a video after the JPEG's end marker: the photo itself is whole."""
    path = tmp_path / "motion.jpg"
    path.write_bytes((clips / "obama.jpg").read_bytes() + b"\x00\x00\x00\x18ftypmp42" + bytes(5000))
    assert load_image(path).shape == load_image(clips / "obama.jpg").shape


def test_damaged_exif_never_makes_a_photo_unusable(tmp_path, obama_rgb):
    path = tmp_path / "odd-exif.jpg"
    exif = Image.Exif()
    exif[0x0112] = 99  # no such orientation
    Image.fromarray(obama_rgb).save(path, exif=exif.tobytes(), quality=90)
    assert load_image(path).shape == obama_rgb.shape
    for block in (b"", b"Exif\0\0", b"MM\0*\xff\xff\xff\xff", b"II*\0\x08\0\0\0\xff\xff" + bytes(10),
                  b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0", bytes(range(256))):
        assert exif_orientation(block) in range(1, 9)
    assert exif_orientation(b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0") == 6


# ------------------------------------------------------------------------------------- format quirks, exact

@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_comes_out_as_a_viewer_shows_it(tmp_path, obama_rgb, orientation):
    upright = np.ascontiguousarray(obama_rgb[100:700, 150:550])
    png = with_exif_orientation(upright, orientation, tmp_path / "o.png")
    assert np.array_equal(load_image(png), upright)  # lossless: exact
    jpeg = with_exif_orientation(upright, orientation, tmp_path / "o.jpg", quality=95)
    shown = np.asarray(ImageOps.exif_transpose(Image.open(jpeg)).convert("RGB"))
    loaded = load_image(jpeg)
    assert loaded.shape == upright.shape
    assert np.abs(loaded.astype(int) - shown.astype(int)).mean() < 1.0  # two JPEG decoders: a rounding apart


def test_greyscale_16_bit_and_alpha_are_converted(tmp_path, obama_rgb):
    bgr = cv2.cvtColor(obama_rgb, cv2.COLOR_RGB2BGR)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)

    loaded = load_image(write_image(tmp_path / "grey.png", grey))
    assert loaded.shape == (*grey.shape, 3) and all(np.array_equal(loaded[..., c], grey) for c in range(3))

    sixteen = write_image(tmp_path / "deep.png", bgr.astype(np.uint16) * 257)  # 0..65535
    assert cv2.imread(str(sixteen), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    assert np.array_equal(load_image(sixteen), obama_rgb)
    grey16 = write_image(tmp_path / "deep-grey.png", grey.astype(np.uint16) * 257)
    assert np.array_equal(load_image(grey16)[..., 1], grey)

    alpha = np.zeros(grey.shape, np.uint8)
    alpha[:, : grey.shape[1] // 2] = 255  # left half opaque, right half fully transparent over garbage
    garbage = bgr.copy()
    garbage[:, grey.shape[1] // 2:] = np.random.default_rng(1).integers(0, 256, garbage[:, grey.shape[1] // 2:].shape)
    rgba = load_image(write_image(tmp_path / "cutout.png", np.dstack([garbage, alpha])))
    half = grey.shape[1] // 2
    assert np.array_equal(rgba[:, :half], obama_rgb[:, :half])
    assert (rgba[:, half:] == 255).all()  # white, not the garbage under the transparency
    rgba16 = write_image(tmp_path / "cutout16.png", np.dstack([garbage, alpha]).astype(np.uint16) * 257)
    assert np.array_equal(load_image(rgba16), rgba)
    grey_alpha = tmp_path / "grey-alpha.png"
    Image.fromarray(np.dstack([grey, alpha]), "LA").save(grey_alpha)
    loaded = load_image(grey_alpha)
    assert np.array_equal(loaded[:, :half, 0], grey[:, :half]) and (loaded[:, half:] == 255).all()


def test_animated_gif_uses_its_first_frame(tmp_path, obama_rgb):
    frames = [obama_rgb, np.full_like(obama_rgb, 128), 255 - obama_rgb]
    path = tmp_path / "wave.gif"
    Image.fromarray(frames[0]).save(path, save_all=True, append_images=[Image.fromarray(f) for f in frames[1:]],
                                    duration=120, loop=0)
    assert Image.open(path).n_frames == 3
    first = np.asarray(Image.open(path).convert("RGB"))  # Pillow opens on frame 0
    assert np.abs(load_image(path).astype(int) - first.astype(int)).mean() < 1.0


# ---------------------------------------------------------------------------------- format quirks, face found

def _quirky_photos(folder: Path, rgb: np.ndarray) -> dict[str, Path]:
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    alpha = np.zeros(grey.shape, np.uint8)
    cv2.ellipse(alpha, (grey.shape[1] // 2, grey.shape[0] * 2 // 5), (grey.shape[1] * 2 // 5, grey.shape[0] // 2),
                0, 0, 360, 255, -1)
    noisy = bgr.copy()
    noisy[alpha == 0] = np.random.default_rng(3).integers(0, 256, (int((alpha == 0).sum()), 3))
    gif = folder / "animated.gif"
    Image.fromarray(rgb).save(gif, save_all=True, append_images=[Image.fromarray(255 - rgb)], duration=100, loop=0)
    return {
        "exif-6.jpg": with_exif_orientation(rgb, 6, folder / "exif-6.jpg", quality=92),
        "exif-8.jpg": with_exif_orientation(rgb, 8, folder / "exif-8.jpg", quality=92),
        "grey.jpg": write_image(folder / "grey.jpg", grey),
        "grey.png": write_image(folder / "grey.png", grey),
        "16-bit.png": write_image(folder / "16-bit.png", bgr.astype(np.uint16) * 257),
        "transparent.png": write_image(folder / "transparent.png", np.dstack([noisy, alpha])),
        "animated.gif": gif,
        "photo.webp": write_image(folder / "photo.webp", bgr, params=(cv2.IMWRITE_WEBP_QUALITY, 95)),
    }


def test_face_is_found_in_every_format_quirk(tmp_path, obama_rgb, analyser, obama_embedding):
    for name, path in _quirky_photos(tmp_path, obama_rgb).items():
        image = load_image(path)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert image.shape == obama_rgb.shape, name  # upright: EXIF-rotated photos are turned back
        embedding, problem = analyser(image)
        assert problem == "", f"{name}: {problem}"
        assert np.linalg.norm(embedding - obama_embedding) < SAME_PERSON, name


def test_fifty_megapixel_photo_is_shrunk_on_load_quickly_and_the_face_found(tmp_path, clips, obama_rgb, analyser,
                                                                             obama_embedding):
    height, width = 5774, 8660  # a 50 MP camera's frame, the person in the middle
    canvas = np.full((height, width, 3), 90, np.uint8)
    scale = height / obama_rgb.shape[0]
    person = cv2.resize(obama_rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    left = (width - person.shape[1]) // 2
    canvas[:, left:left + person.shape[1]] = person[:height]
    path = write_image(tmp_path / "50mp.jpg", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR),
                       params=(cv2.IMWRITE_JPEG_QUALITY, 90))
    del canvas, person

    # Measured in a fresh process: the peak memory the load adds, and its CPU time.
    script = textwrap.dedent(f"""
        import json, resource, sys, time
        from pathlib import Path
        sys.path.insert(0, {str(PROJECT)!r})
        from facegate.imageio import load_image
        load_image({str(clips / "obama-240p.jpg")!r})  # warm-up: the decoders' own start-up is not the photo's
        def rss_kb(field):
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith(field):
                    return int(line.split()[1])
        try:
            Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current size
            before, reset = rss_kb("VmRSS:"), True
        except OSError:  # not Linux: the peak so far (the warm-up's) is the baseline
            before, reset = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, False
        started = time.process_time()
        image = load_image({str(path)!r})
        cpu = time.process_time() - started
        peak = rss_kb("VmHWM:") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({{"shape": image.shape, "cpu_s": cpu, "added_mb": (peak - before) / 1024}}))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["shape"][1:] == [2000, 3] and measured["shape"][0] in (1333, 1334)
    # A full decode of it peaks near 290 MB and takes ~0.6 s (measured); this one decodes at 1/4 scale (~25 MB).
    assert measured["added_mb"] < 80, measured
    assert measured["cpu_s"] < 2.0, measured

    image = load_image(path)
    embedding, problem = analyser(image)
    assert problem == ""
    assert np.linalg.norm(embedding - obama_embedding) < SAME_PERSON


# ------------------------------------------------------------------------------------ the gallery folder

def _bad_files(folder: Path, clips: Path) -> dict[str, str]:
    """Write the bad files into `folder`; returns file name -> words its problem must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    jpeg = (clips / "obama.jpg").read_bytes()
    (folder / "notes.txt").write_text("Zoë's badge number is 4711")
    (folder / "scan.jpg").write_bytes(NOT_PHOTOS["report.jpg"][0])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "half.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (folder / "header-only.jpg").write_bytes(jpeg[:600])
    return {"notes.txt": "not an image file", "scan.jpg": "PDF document", "empty.jpg": "empty",
            "half.jpg": "truncated", "header-only.jpg": "JPEG or PNG"}


def test_gallery_folder_with_bad_quirky_and_unicode_files(tmp_path, engine, clips, obama_rgb):
    folder = tmp_path / "Empfang – Galerie"
    zoe = folder / "Zoë Ångström"
    expected = _bad_files(zoe, clips)
    with_exif_orientation(obama_rgb, 6, zoe / "fötö 李 (1).jpg", quality=92)
    shutil.copy(clips / "biden.jpg", folder / "李小龍.jpg")  # a one-photo person, the name is the file name
    (folder / "README.txt").write_text("not a person")  # top-level non-photos are not people
    before = snapshot(folder)

    counting = CountingEngine(engine)
    gallery = Gallery(folder, counting)
    problems = {p.path.name: p.reason for p in gallery.refresh()}
    assert gallery.people == ["Zoë Ångström", "李小龍"]
    assert gallery.photo_count("Zoë Ångström") == 1 and gallery.photo_count("李小龍") == 1
    assert set(problems) == set(expected)
    for name, words in expected.items():
        assert words in problems[name], (name, problems[name])
        assert not problems[name].startswith(str(folder)), "the reason, without the path again"
    encoded = counting.encoded

    again = Gallery(folder, counting)  # a restart: the cache holds the problems too, nothing is decoded again
    assert {p.path.name: p.reason for p in again.refresh()} == problems
    assert counting.encoded == encoded
    image = load_image(clips / "obama2.jpg")
    match = again.match(engine.embed(image, engine.detect(image)[:1])[0])
    assert match.name == "Zoë Ångström" and match.distance < 0.5
    assert snapshot(folder) == before  # the user's files: untouched, none deleted, none "repaired"


def test_enroll_accepts_quirky_photos_and_names_each_bad_one(tmp_path, engine, clips, obama_rgb):
    folder = tmp_path / "gallery"
    quirky = _quirky_photos(tmp_path, obama_rgb)
    bad_dir = tmp_path / "bad"
    expected = _bad_files(bad_dir, clips)
    expected["notes.txt"] = "text file"  # given by hand: read by content, whatever the name
    gallery = Gallery(folder, engine)
    photos = [quirky["exif-6.jpg"], quirky["16-bit.png"], quirky["transparent.png"], quirky["animated.gif"],
              *sorted(bad_dir.iterdir())]
    saved, problems = gallery.enroll("Zoë Ångström", photos)
    assert len(saved) == 4 and all(p.parent == folder / "Zoë Ångström" for p in saved)
    assert {p.path.name for p in problems} == set(expected)
    for problem in problems:
        assert expected[problem.path.name] in problem.reason
    assert gallery.photo_count("Zoë Ångström") == 4
    assert sorted(p.suffix for p in saved) == [".gif", ".jpg", ".png", ".png"]
    assert [str(p) for p in gallery.refresh()] == []  # each saved photo reads back as usable

    before = snapshot(folder)
    with pytest.raises(GalleryError, match="Nothing enrolled for 'Nobody'") as info:
        gallery.enroll("Nobody", sorted(bad_dir.iterdir()))
    for name in expected:
        assert name in str(info.value)
    assert snapshot(folder) == before and not (folder / "Nobody").exists()


@pytest.mark.parametrize("name", ["../evil", "..", ".", "a/b", "a\\b", "/etc/evil", "Zoë/../../evil", "evil/..",
                                  "..\\evil", "nul\0byte", "tab\tname", ".hidden"])
def test_names_that_would_leave_the_folder_are_refused(tmp_path, engine, clips, name):
    folder = tmp_path / "site" / "gallery"
    gallery = Gallery(folder, engine)
    gallery.enroll("Ada", [clips / "obama.jpg"])
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(GalleryError) as info:
        gallery.enroll(name, [clips / "obama2.jpg"])
    assert any(words in str(info.value) for words in ("path separator", "control characters", "starts with a dot"))
    with pytest.raises(GalleryError):
        gallery.rename("Ada", name)
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    assert gallery.people == ["Ada"]


def test_names_differing_only_in_case_or_unicode_form(tmp_path, engine, clips):
    folder = tmp_path / "gallery"
    gallery = Gallery(folder, engine)
    gallery.enroll("Zoë Ångström", [clips / "obama.jpg"])
    gallery.enroll("李小龍", [clips / "biden.jpg"])
    for other in ("ZOË ÅNGSTRÖM", "zoë ångström", " Zoë ÅNGSTRÖM "):
        with pytest.raises(GalleryError, match="A person named 'Zoë Ångström' is already enrolled"):
            gallery.enroll(other, [clips / "obama2.jpg"])
    with pytest.raises(GalleryError, match="'Zoë Ångström' is already enrolled"):
        gallery.rename("李小龍", "zoë ångström")
    # The same name typed in decomposed form (e + combining diaeresis, as macOS writes it) is the same person.
    gallery.enroll("Zoe\u0308 A\u030angstro\u0308m", [clips / "obama2.jpg"])
    assert gallery.people == ["Zoë Ångström", "李小龍"] and gallery.photo_count("Zoë Ångström") == 2
    assert sorted(p.name for p in folder.iterdir()) == [".facegate-gallery", "Zoë Ångström", "李小龍"]


# ------------------------------------------------------------------------------------ the embedding cache

@pytest.fixture(scope="module")
def cached_gallery(tmp_path_factory, engine, clips):
    """A two-person gallery and its good cache (built once); tests copy it."""
    root = tmp_path_factory.mktemp("cached")
    folder = root / "gallery"
    folder.mkdir()
    shutil.copy(clips / "obama.jpg", folder / "Obama.jpg")
    shutil.copy(clips / "biden.jpg", folder / "Biden.jpg")
    gallery = Gallery(folder, engine)
    gallery.refresh()
    with np.load(gallery.cache_path) as data:
        arrays = {key: data[key] for key in data.files}
    return root, arrays, {n: e.copy() for n, e in gallery.embeddings().items()}


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _damaged_caches(good: dict) -> dict[str, bytes]:
    whole = _npz(**good)
    nan = good["embeddings"].copy()
    nan[0, 5] = np.nan
    inf = good["embeddings"].copy()
    inf[1, :] = np.inf
    without = {k: v for k, v in good.items() if k != "problems"}
    return {
        "garbage": os.urandom(3000),
        "empty": b"",
        "truncated": whole[: len(whole) // 2],
        "cut-at-the-end": whole[:-10],
        "a text file": b"format=facegate\n",
        "wrong width": _npz(**{**good, "embeddings": good["embeddings"][:, :64]}),
        "one row short": _npz(**{**good, "embeddings": good["embeddings"][:1]}),
        "3-d embeddings": _npz(**{**good, "embeddings": good["embeddings"][:, :, None]}),
        "problems of another length": _npz(**{**good, "problems": np.array(["", "", ""])}),
        "NaN embedding": _npz(**{**good, "embeddings": nan}),
        "infinite embedding": _npz(**{**good, "embeddings": inf}),
        "another model's cache": _npz(**{**good, "format": np.array("facegate-embeddings-v1")}),
        "format as a list": _npz(**{**good, "format": np.array([CACHE_FORMAT, CACHE_FORMAT])}),
        "a key missing": _npz(**without),
        "pickled objects": _npz(**{**good, "sha256": np.array(list(good["sha256"]), dtype=object)}),
    }


DAMAGE = ["garbage", "empty", "truncated", "cut-at-the-end", "a text file", "wrong width", "one row short",
          "3-d embeddings", "problems of another length", "NaN embedding", "infinite embedding",
          "another model's cache", "format as a list", "a key missing", "pickled objects"]


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_embedding_cache_is_rebuilt_never_trusted(tmp_path, engine, cached_gallery, damage):
    root, good, embeddings = cached_gallery
    folder = tmp_path / "gallery"
    shutil.copytree(root / "gallery", folder)
    gallery_before = snapshot(folder)
    cache = tmp_path / ".gallery.embeddings.npz"
    cache.write_bytes(_damaged_caches(good)[damage])

    counting = CountingEngine(engine)
    gallery = Gallery(folder, counting)
    assert gallery.refresh() == []
    assert counting.encoded == 2  # both photos encoded again: nothing taken from the damaged file
    assert gallery.people == ["Biden", "Obama"]
    for name, rows in gallery.embeddings().items():
        np.testing.assert_allclose(rows, embeddings[name], atol=1e-5)
    with np.load(cache) as data:  # and the cache is whole again
        assert str(data["format"]) == CACHE_FORMAT and np.isfinite(data["embeddings"]).all()
        assert data["embeddings"].shape == (2, EMBEDDING_SIZE)
    assert snapshot(folder) == gallery_before

    restarted = CountingEngine(engine)
    Gallery(folder, restarted).refresh()
    assert restarted.encoded == 0  # the rebuilt cache is trusted


def test_a_folder_where_the_cache_should_be(tmp_path, engine, cached_gallery):
    root, _, _ = cached_gallery
    folder = tmp_path / "gallery"
    shutil.copytree(root / "gallery", folder)
    (tmp_path / ".gallery.embeddings.npz").mkdir()
    gallery = Gallery(folder, engine)
    assert gallery.refresh() == [] and gallery.people == ["Biden", "Obama"]  # works without a cache


PLAUSIBLE_BUT_WRONG = {
    # Each is a cache FaceGate never writes, structurally fine: Gallery._load_cache checks dtypes, unique hashes
    # and embedding lengths, so none is trusted.
    "problems stored as numbers": lambda g: {**g, "problems": np.zeros(len(g["sha256"]), np.int64)},
    "the same photo hash twice": lambda g: {**g, "sha256": np.array([g["sha256"][0]] * len(g["sha256"]))},
    "all-zero embeddings": lambda g: {**g, "embeddings": np.zeros_like(g["embeddings"])},
    "huge embeddings": lambda g: {**g, "embeddings": np.full_like(g["embeddings"], 1e30)},
}


@pytest.mark.parametrize("damage", sorted(PLAUSIBLE_BUT_WRONG))
def test_structurally_valid_but_impossible_cache_is_rebuilt(tmp_path, engine, cached_gallery, damage):
    root, good, embeddings = cached_gallery
    folder = tmp_path / "gallery"
    shutil.copytree(root / "gallery", folder)
    (tmp_path / ".gallery.embeddings.npz").write_bytes(_npz(**PLAUSIBLE_BUT_WRONG[damage](good)))
    counting = CountingEngine(engine)
    gallery = Gallery(folder, counting)
    gallery.refresh()
    assert counting.encoded == 2
    assert gallery.people == ["Biden", "Obama"]


# ----------------------------------------------------------------------------------- the CLI, end to end

def facegate(*args, env=None, timeout=300):
    result = subprocess.run([sys.executable, "-m", "facegate", *map(str, args)], capture_output=True, text=True,
                            timeout=timeout, env={**os.environ, **(env or {})}, encoding="utf-8")
    return result.returncode, result.stdout, result.stderr


def test_cli_with_bad_quirky_and_unicode_input(tmp_path, clips, obama_rgb):
    gallery = tmp_path / "gallery"
    photos = tmp_path / "Fotos für Zoë"
    expected = _bad_files(photos, clips)
    good = with_exif_orientation(obama_rgb, 6, photos / "fötö 李.jpg", quality=92)
    bad = sorted(p for p in photos.iterdir() if p != good)

    code, out, err = facegate("enroll", "--gallery", gallery, "--name", "Zoë Ångström", good, *bad)
    assert code == 0, err
    assert "Traceback" not in err
    assert "enrolled Zoë Ångström" in out and "Zoë Ångström now has 1 usable photo(s)" in out
    for path in bad:
        assert any(line.startswith(f"skipped {path}: ") for line in out.splitlines()), (path, out)

    code, _, err = facegate("enroll", "--gallery", gallery, "--name", "ZOË ÅNGSTRÖM", clips / "obama2.jpg")
    assert code == 2 and "error: A person named 'Zoë Ångström' is already enrolled" in err

    code, _, err = facegate("enroll", "--gallery", gallery, "--name", "Nobody", *bad)
    assert code == 2 and err.startswith("error: Nothing enrolled for 'Nobody'") and "Traceback" not in err
    assert not (gallery / "Nobody").exists()

    rotated = with_exif_orientation(load_image(clips / "obama2.jpg"), 8, tmp_path / "visitor.jpg", quality=92)
    code, out, err = facegate("identify", "--gallery", gallery, rotated)
    assert code == 0 and "Zoë Ångström (distance" in out, (out, err)

    code, _, err = facegate("identify", "--gallery", gallery, photos / "empty.jpg")
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"error: {photos / 'empty.jpg'}: the file is empty (0 bytes); replace it " \
                                           "with a real photo"

    shutil.copy(photos / "scan.jpg", gallery / "Zoë Ångström" / "scan.jpg")
    code, out, _ = facegate("gallery", "list", "--gallery", gallery)
    assert code == 0 and "Zoë Ångström: 1 photo(s)" in out
    assert f"problem: {gallery / 'Zoë Ångström' / 'scan.jpg'}: not a readable image: this is a " \
           f"{expected['scan.jpg']}" in out


def test_cli_prints_unicode_names_on_a_console_that_cannot_show_them(tmp_path, clips):
    code, out, err = facegate("enroll", "--gallery", tmp_path / "g", "--name", "李小龍", clips / "biden.jpg",
                              env={"PYTHONIOENCODING": "ascii"})
    assert code == 0 and "Traceback" not in err, err


# --------------------------------------------------------------------------------- the dlib weight file

@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    return verified_path(DLIB_RESNET).read_bytes()


def test_verify_refuses_damaged_copies_with_the_fix(tmp_path, model_bytes):
    fix = f"Fix: pip install --force-reinstall '{DLIB_RESNET.package}'"
    flipped = bytearray(model_bytes)
    for offset in (0, 17, len(flipped) // 3, len(flipped) - 1):
        flipped[offset] ^= 0x01
    cases = {"flipped.dat": bytes(flipped), "cut.dat": model_bytes[: len(model_bytes) - 4096],
             "empty.dat": b"", "extra.dat": model_bytes + b"\0"}
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ModelFileError) as info:
            verify(DLIB_RESNET, path)
        assert "does not have the pinned SHA-256" in str(info.value) and fix in str(info.value)
    for path in (tmp_path / "absent.dat", tmp_path):  # missing, or a folder: still the fix, not an OSError
        with pytest.raises(ModelFileError, match=re.escape(fix)):
            verify(DLIB_RESNET, path)
    good = tmp_path / "good.dat"
    good.write_bytes(model_bytes)
    assert verify(DLIB_RESNET, good) == good


def test_truncated_copies_give_model_file_error(model_bytes):
    for cut in (0, 1, 2, 5, 20, 60, 61, 100, 1000, 4096, 100_000, len(model_bytes) // 2, len(model_bytes) - 1000,
                len(model_bytes) - 1):
        with pytest.raises(ModelFileError, match="corrupt or truncated"):
            parse_dlib_network(model_bytes[:cut])


def test_non_finite_weights_are_refused(model_bytes):
    damaged = bytearray(model_bytes)
    middle = len(damaged) // 2  # inside a convolution's filters: 8 x 0xFF covers one whole float32 = NaN
    damaged[middle:middle + 8] = b"\xff" * 8
    with pytest.raises(ModelFileError, match="NaN or infinite"):
        parse_dlib_network(bytes(damaged))


@pytest.fixture(scope="module")
def structure_offsets(model_bytes) -> list[int]:
    """Where the file's structure is (layer names; the small fields just before and after them): random bytes
    there hit the integers, shapes and versions, not just weight values."""
    tags = rb"con_4|affine_|relu_|add_prev_|max_pool_2|avg_pool_2|fc_2|input_rgb_image_sized|loss_metric_2"
    offsets = [m.start() for m in re.finditer(tags, model_bytes)]
    assert len(offsets) > 100
    return offsets


class _Hang(Exception):
    pass


@contextmanager
def _wall_clock_limit(seconds: float):
    """Turn a hang into a failure (SIGALRM interrupts the parser's Python loops)."""
    def expired(signum, frame):
        raise _Hang(f"parse still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_edit = st.tuples(
    st.sampled_from(["overwrite", "insert", "delete", "truncate"]),
    st.one_of(st.tuples(st.just("anywhere"), st.floats(0, 1, exclude_max=True)),
              st.tuples(st.just("structure"), st.integers(0, 10_000), st.integers(-64, 48))),
    st.binary(min_size=1, max_size=16) | st.sampled_from([b"\x00", b"\xff", b"\x80", b"\x08\xff\xff\xff\xff\xff\xff"
                                                                                         b"\xff\x7f", b"\x81"]),
)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM to bound each parse")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(_edit, min_size=1, max_size=3))
def test_any_corruption_anywhere_gives_model_file_error_or_a_clean_parse(model_bytes, structure_offsets, edits):
    data = bytearray(model_bytes)
    offsets = structure_offsets
    for kind, where, payload in edits:
        if where[0] == "anywhere":
            position = int(where[1] * len(data))
        else:
            position = min(max(offsets[where[1] % len(offsets)] + where[2], 0), len(data))
        if kind == "overwrite":
            data[position:position + len(payload)] = payload
        elif kind == "insert":
            data[position:position] = payload
        elif kind == "delete":
            del data[position:position + len(payload)]
        else:
            del data[position:]
    started = time.process_time()
    try:
        with _wall_clock_limit(30.0):
            network = parse_dlib_network(bytes(data))
    except ModelFileError as exc:
        assert "corrupt or truncated" in str(exc)
        event("ModelFileError")
    else:
        # a change only in weight values or training-only fields: what was read is still consistent
        event("parsed cleanly")
        assert network.layers and network.input_size[0] > 0
        for layer in network.layers:
            for value in layer.params.values():
                if isinstance(value, np.ndarray):
                    assert np.isfinite(value).all()
        assert all(math.isfinite(v) for v in network.channel_means)
    assert time.process_time() - started < 2.0
