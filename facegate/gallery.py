"""The enrolled-faces folder and its embedding cache.

Layout (the one face_recognition's examples made familiar):
    <gallery>/<Person Name>/<photo>.jpg     several photos per person
    <gallery>/<Person Name>.jpg             one photo, the name is the file name
    <gallery>/<Person Name>/learned-<UTC time>-<hash>.jpg
                                            a face the kiosk itself captured on a confident, liveness-passed visit
                                            (facegate/learning.py): used only while the person has an enrolled
                                            photo of their own, and only for a face those already put under the
                                            threshold; bounded, and forgotten on request

Embeddings are cached beside the folder in `.<gallery>.embeddings.npz`, keyed by the SHA-256 of each photo's
bytes, so adding, replacing or removing a photo costs one encoding, and a renamed person costs none. The cache
is a convenience: anything wrong with it (unreadable, other model, inconsistent) and it is rebuilt.

A photo is used for matching only when it holds exactly one clear face: no face, several faces, a face too
small or too blurred, or an unreadable file is reported with the file name and left out.

Ownership: FaceGate changes only a folder that is its own, marked by a `.facegate-gallery` file. A missing or
empty folder is made its own on the first write; so is a folder that holds only what a gallery holds (person
folders of photos, loose photos: a gallery from before the marker, or face_recognition's layout). Any other
folder (a home folder, ~/Pictures, /) is read but never written, chmod-ed or cleaned up, and every change is
refused with the paths that are not FaceGate's. Removing a person deletes only the photo files in their folder
(and FaceGate's own temp files), then the empty folder: anything else in it is refused, named, and left alone.

Faults (a kiosk runs unattended for months): photos and the cache are written atomically (facegate.storage),
so a crash or power cut at any moment leaves each file whole or absent; hidden names (dot-files: temp files,
a person being erased) are never taken for photos and are cleaned up by a later refresh. An enrollment that
cannot be saved (read-only folder, disk full) raises GalleryError naming the folder and the cause, and leaves
the gallery exactly as it was; a cache that cannot be written is only a warning (embeddings stay in memory).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import TypeVar

import cv2
import numpy as np

from facegate.config import DEFAULT_THRESHOLD
from facegate.errors import GalleryError, ImageError
from facegate.imageio import file_problem, is_image_name, load_image, metadata_bytes
from facegate.matching import (
    Match,
    Resemblance,
    best_two,
    distances_with_learned,
    group_starts,
    per_person_distances,
    resemblance,
)
from facegate.storage import (
    atomic_write_bytes,
    describe_os_error,
    ensure_private_dir,
    is_temp_name,
    remove_stale_temp_files,
    what_to_do,
)
from facegate.vision.engine import EMBEDDING_SIZE, split

Photo = TypeVar("Photo", Path, str, np.ndarray)  # a photo file, or its RGB pixels

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # Windows: no file locks between processes (one kiosk per gallery folder there)
    fcntl = None

log = logging.getLogger(__name__)

# Bump when anything that changes embeddings changes (detector, landmarks, aligner, encoder).
CACHE_FORMAT = "facegate-embeddings-v4-dlib-sface-upright"
# A second face at least this wide (relative to the largest) makes the photo ambiguous: whom to enroll?
AMBIGUOUS_SECOND_FACE = 0.5
MAX_NAME_LENGTH = 100
# An enrolled photo larger than this, or a JPEG with more metadata (EXIF, XMP, ICC, comments) than this, is stored
# re-encoded from its pixels instead of as given.
MAX_STORED_BYTES = 12 * 2**20
MAX_METADATA_BYTES = 512 * 2**10
# As a folder name, in UTF-8 (file systems allow 255 bytes; a loose "<name>.jpeg" needs room for its suffix).
MAX_NAME_BYTES = 240
# Characters that print as nothing, though Unicode does not call them spaces.
BLANK_LOOKING = frozenset("\u2800\u3164\u115f\u1160\uffa0")
WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                              *(f"LPT{i}" for i in range(1, 10))})
# Temp files younger than this may belong to a write in progress in another process (e.g. `facegate enroll`
# while the kiosk runs): refresh() leaves them alone. Older ones were left by a killed write and go.
STALE_TEMP_AGE_S = 300.0
# A site kiosk's copy (mirror_person) looks for stale temp files in every person's folder at most this often.
MIRROR_TIDY_S = 60.0
# A person being erased is first renamed to a hidden folder ending so (one atomic step), then deleted.
ERASING_SUFFIX = ".erasing"
# The file that makes a folder FaceGate's gallery (see "Ownership" above).
GALLERY_MARKER = ".facegate-gallery"  # also the file locked while one process changes the gallery
MARKER_TEXT = b"This folder is a FaceGate gallery: one folder of photos per enrolled person.\n"
# A gallery that is a site kiosk's copy of the server's people carries this too (facegate/site/).
REPLICA_MARKER = ".facegate-replica"
# Files an operating system drops into any folder; not the user's data, deleted with a person's photos.
SYSTEM_CLUTTER = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", ".directory"})
_ERASING_NAME = re.compile(r"^\.[0-9a-f]{8}" + re.escape(ERASING_SUFFIX) + "$")
# How many paths a refusal names (the rest are counted).
NAMED_PATHS = 3
# Photos the kiosk learned on visits (facegate/learning.py) are named so: <prefix><UTC time>-<hash>.jpg.
LEARNED_PREFIX = "learned-"
LEARNED_TIME_FORMAT = "%Y%m%dT%H%M%SZ"


def _deletable(path: Path) -> bool:
    """A file FaceGate may delete when it erases a person: a photo, its own temp file, or system clutter."""
    return (not path.is_symlink() and path.is_file()
            and (is_image_name(path) or is_temp_name(path.name) or path.name in SYSTEM_CLUTTER))


def _delete(path: Path, if_not: str) -> bool:
    """Delete a file; True when it is gone. A failure is a warning saying what happens instead (`if_not`)."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("%s could not be deleted (%s); %s.", path, describe_os_error(exc), if_not)
        return False
    return True


def _listing(paths: list[Path]) -> str:
    named = ", ".join(str(p) for p in paths[:NAMED_PATHS])
    return named + (f" and {len(paths) - NAMED_PATHS} more" if len(paths) > NAMED_PATHS else "")


def is_learned(path: Path) -> bool:
    return path.name.startswith(LEARNED_PREFIX)


def learned_time(path: Path) -> float | None:
    """When a learned photo was captured (from its name: it survives copies and restarts), in epoch seconds."""
    stamp = path.name[len(LEARNED_PREFIX):].split("-", 1)[0]
    try:
        return datetime.strptime(stamp, LEARNED_TIME_FORMAT).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def validate_name(name: str) -> str:
    """The person's name as it will be stored (a folder name). Raises GalleryError with the reason."""
    cleaned = unicodedata.normalize("NFC", (name or "").strip())
    if not cleaned:
        raise GalleryError("The name is empty; type the person's name.")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise GalleryError(f"The name is longer than {MAX_NAME_LENGTH} characters.")
    if any(sep in cleaned for sep in ("/", "\\", "\0")) or cleaned in (".", ".."):
        raise GalleryError(f"The name {name!r} contains a path separator or is '.' or '..'; use letters, "
                           "digits, spaces, hyphens or apostrophes.")
    if any(unicodedata.category(ch).startswith("C") for ch in cleaned):
        raise GalleryError(f"The name {name!r} contains control characters.")
    if cleaned.startswith("."):
        raise GalleryError(f"The name {name!r} starts with a dot (that would hide the folder).")
    if any(ch in cleaned for ch in '<>:"|?*'):
        raise GalleryError(f"The name {name!r} contains one of < > : \" | ? * (not allowed in Windows folder names).")
    odd = next((ch for ch in cleaned if (unicodedata.category(ch).startswith("Z") and ch != " ")
                or ch in BLANK_LOOKING), None)
    if odd is not None:  # line separators split log lines; invisible or blank characters deceive the reader
        raise GalleryError(f"The name {name!r} contains an invisible or unusual space character "
                           f"(U+{ord(odd):04X}); type it again with ordinary spaces only.")
    if not any(unicodedata.category(ch)[0] in "LN" for ch in cleaned):
        raise GalleryError(f"The name {name!r} has no letter or digit; type the person's name.")
    if cleaned.endswith("."):
        raise GalleryError(f"The name {name!r} ends with a dot, which Windows drops from folder names; "
                           "leave the dot out.")
    if cleaned.split(".")[0].strip().upper() in WINDOWS_RESERVED:
        raise GalleryError(f"The name {name!r} is reserved by Windows for a device ({cleaned.split('.')[0]}); "
                           "add the family name or an initial.")
    size = len(cleaned.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise GalleryError(f"The name {name!r} is {size} bytes long as a folder name (at most {MAX_NAME_BYTES}: "
                           "letters outside English take 2-4 bytes each); shorten it.")
    return cleaned


def check_enrollment_name(name: str, existing: str | None, allow_new_person: bool) -> None:
    """GalleryError when photos for `name` may not be enrolled, given the enrolled name that equals it but for
    upper/lower case (`existing`, None when there is none): in a folder and on a site server alike."""
    if existing is not None and existing != name:
        raise GalleryError(f"A person named {existing!r} is already enrolled; names may not differ only "
                           f"in upper/lower case. Enroll as {existing!r} to add photos to them.")
    if existing is None and not allow_new_person:
        raise GalleryError(f"{name!r} is not enrolled.")


@dataclass(frozen=True)
class PhotoProblem:
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class _Entry:
    embedding: np.ndarray | None
    problem: str  # "" when usable


@dataclass
class _Index:
    """Immutable snapshot used for matching; swapped whole so readers never see a half-updated gallery."""

    names: list[str]
    embeddings: np.ndarray  # (M, 128), rows grouped by person
    squared_norms: np.ndarray
    starts: np.ndarray  # first row of each person
    photo_counts: dict[str, int] = field(default_factory=dict)
    learned: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # per row: a learned photo
    # person -> (file, SHA-256) of each usable enrolled (not learned) photo: what lower_face_embeddings reads
    enrolled_files: dict[str, list[tuple[Path, str]]] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()  # in blocks: a huge file named .jpg is not read into memory at once
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _jpeg_pixels(data: bytes) -> np.ndarray:
    """The RGB pixels of a JPEG this process has just encoded."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None  # OpenCV decodes the JPEG it has just written
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class Gallery:
    def __init__(self, folder: str | Path, engine=None, cache_path: str | Path | None = None,
                 threshold: float = DEFAULT_THRESHOLD):
        self.folder = Path(folder).expanduser()
        # The grant threshold in force (Settings.threshold; kiosk.open_gallery and build_session set it): a learned
        # photo counts only for a face that the person's enrolled photos already put under it (matching.py).
        self.threshold = threshold
        self.cache_path = Path(cache_path) if cache_path else self.folder.parent / f".{self.folder.name}.embeddings.npz"
        if engine is None:
            from facegate.vision.engine import FaceEngine

            engine = FaceEngine()
        self.engine = engine
        self.problems: list[PhotoProblem] = []
        self._lock = threading.RLock()
        self._entries: dict[str, _Entry] = {}  # photo hash -> analysis, as of the last refresh (cache or not)
        # photo hash -> the lower face's embedding (None: no face found), computed on first asking (see
        # lower_face_embeddings); forgotten when the photo leaves the gallery
        self._lower_faces: dict[str, np.ndarray | None] = {}
        # photo file -> ((size, mtime_ns, inode), SHA-256) as of the last refresh: an unchanged file is not read
        # again (a site kiosk's copy of 10,000 people refreshes on every change; writes replace files: new inode)
        self._digests: dict[Path, tuple[tuple[int, int, int], str]] = {}
        # the cache file as last read or written here ((size, mtime_ns, inode), its entries): not read again
        # while no one else has replaced it
        self._cache_seen: tuple[tuple[int, int, int], dict[str, _Entry]] | None = None
        self._tidied = float("-inf")  # time.monotonic() of the last look into every person's folder for temp files
        self._seen: tuple | None = None  # the folder's signature at the last refresh
        self._index = _Index([], np.zeros((0, EMBEDDING_SIZE), np.float32), np.zeros(0, np.float32),
                             np.zeros(0, np.int64))

    # ----------------------------------------------------------------------------------- ownership
    def is_own(self) -> bool:
        """True when the folder carries FaceGate's marker: only then is it cleaned up."""
        return (self.folder / GALLERY_MARKER).is_file()

    def foreign_entries(self) -> list[Path]:
        """What in the folder a gallery does not hold: anything but person folders of photos, loose photos, and
        FaceGate's own hidden files (temp files, a person being erased, the marker)."""
        found: list[Path] = []
        try:
            entries = sorted(self.folder.iterdir())
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise GalleryError(f"Cannot read the gallery folder {self.folder}: {describe_os_error(exc)}; "
                               f"{what_to_do(exc)}") from exc
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                if not (name in (GALLERY_MARKER, REPLICA_MARKER) or name in SYSTEM_CLUTTER or is_temp_name(name)
                        or _ERASING_NAME.match(name)):
                    found.append(entry)
            elif entry.is_symlink():
                found.append(entry)
            elif entry.is_dir():
                try:
                    found += [p for p in sorted(entry.iterdir()) if not _deletable(p)]
                except OSError:
                    found.append(entry)
            elif not (entry.is_file() and (is_image_name(entry) or name in SYSTEM_CLUTTER)):
                found.append(entry)
        return found

    def _claim(self) -> None:
        """Make the folder FaceGate's before anything in it is written, chmod-ed or deleted; GalleryError, with the
        paths, when it holds what a gallery does not (a home folder given as the gallery, say)."""
        if self.is_own():
            return
        if self.folder.exists() and not self.folder.is_dir():
            raise GalleryError(f"The gallery {self.folder} is a file, not a folder; choose a folder.")
        foreign = self.foreign_entries()
        if foreign:
            raise GalleryError(
                f"{self.folder} is not a FaceGate gallery, so FaceGate changes nothing in it: it holds "
                f"{_listing(foreign)}, which are not photos in person folders. Choose an empty or new folder for "
                "the gallery (FaceGate creates it), or move the other files out of this one.")
        try:
            ensure_private_dir(self.folder)
            atomic_write_bytes(self.folder / GALLERY_MARKER, MARKER_TEXT)
        except OSError as exc:
            raise GalleryError(f"Could not set up the gallery folder {self.folder}: {describe_os_error(exc)}. "
                               f"Nothing was changed; {what_to_do(exc)}") from exc

    def _erase_folder(self, folder: Path) -> list[Path]:
        """Delete FaceGate's files in `folder` (photos, temp files, clutter), then the folder if empty. Returns
        what was left (nothing, normally). Never raises."""
        left: list[Path] = []
        try:
            entries = list(folder.iterdir())
        except OSError:
            return [folder]
        for path in entries:
            if not _deletable(path) or not _delete(path, "the next refresh retries"):
                left.append(path)
        if not left:
            try:
                folder.rmdir()
            except OSError as exc:
                log.warning("%s could not be deleted (%s).", folder, describe_os_error(exc))
                left.append(folder)
        return left

    # ----------------------------------------------------------------------------------- scanning
    def photos(self) -> dict[str, list[Path]]:
        """Person name -> photo files, from the folder layout alone (no decoding)."""
        people: dict[str, list[Path]] = {}
        if not self.folder.is_dir():
            return people
        try:
            entries = sorted(self.folder.iterdir())
        except OSError as exc:
            raise GalleryError(f"Cannot read the gallery folder {self.folder}: {describe_os_error(exc)}; "
                               f"{what_to_do(exc)}") from exc
        for entry in entries:
            if entry.name.startswith("."):  # temp files, the cache, a person being erased: never photos
                continue
            try:
                if entry.is_dir():
                    files = [p for p in sorted(entry.iterdir()) if p.is_file() and not p.name.startswith(".")]
                    people.setdefault(entry.name, []).extend(files)
                elif entry.is_file() and is_image_name(entry):
                    people.setdefault(entry.stem, []).append(entry)
            except FileNotFoundError:  # removed while we looked (another process editing the gallery)
                continue
            except OSError as exc:
                log.warning("Gallery folder %s cannot be read (%s); left out.", entry, describe_os_error(exc))
        return people

    @property
    def people(self) -> list[str]:
        return list(self._index.names)

    def embeddings(self, kind: str = "all") -> dict[str, np.ndarray]:
        """Person -> (k, EMBEDDING_SIZE) embeddings of their usable photos (as of the last refresh): "all", the
        photos people "enrolled", or those the kiosk "learned" (facegate/learning.py)."""
        if kind not in ("all", "enrolled", "learned"):
            raise ValueError(f"kind must be all, enrolled or learned, not {kind!r}")
        index = self._index  # one snapshot: it is swapped whole, never edited in place
        ends = list(index.starts[1:]) + [len(index.embeddings)]
        found = {}
        for name, start, end in zip(index.names, index.starts, ends, strict=False):
            rows, learned = index.embeddings[start:end], index.learned[start:end]
            found[name] = rows if kind == "all" else rows[learned if kind == "learned" else ~learned]
        return found

    def analysis(self, digest: str) -> tuple[np.ndarray | None, str] | None:
        """(embedding or None, problem) of the photo whose bytes have SHA-256 `digest`, as of the last refresh;
        None when no photo of the gallery has those bytes."""
        entry = self._entries.get(digest)
        return None if entry is None else (entry.embedding, entry.problem)

    def lower_face_embeddings(self, name: str) -> np.ndarray:
        """(k, EMBEDDING_SIZE) embeddings of the lower faces (facegate/vision/lower_face.py) of `name`'s usable
        enrolled photos, as of the last refresh; (0, EMBEDDING_SIZE) when they have none. Learned photos are left
        out: the whole-face check compares a visitor with what the person enrolled.

        Computed on first asking, one encoding per photo (about 30-100 ms), and kept in memory by the SHA-256 of
        the photo's bytes like the embedding cache: a replaced photo is a new key, a removed one is forgotten at
        the next refresh. Not written to disk: only the people who come to the door are ever asked for, and a
        restart costs each of them one encoding per photo. A site kiosk's replica works the same way: its photo
        files are copies of the server's."""
        with self._lock:
            wanted = self._index.enrolled_files.get(name, [])
            rows = []
            for path, digest in wanted:
                if digest not in self._lower_faces:
                    try:
                        if _sha256(path) != digest:
                            continue  # changed since the last refresh: the next one brings its new analysis
                    except OSError:
                        continue
                    self._lower_faces[digest] = self._lower_face_of_file(path)
                if (row := self._lower_faces[digest]) is not None:
                    rows.append(row)
        return np.array(rows, np.float32).reshape(-1, EMBEDDING_SIZE)

    def _lower_face_of_file(self, path: Path) -> np.ndarray | None:
        """The lower face's embedding of the face analyse_photo() takes from the photo; None when it cannot."""
        from facegate.vision.lower_face import embed_lower_faces

        try:
            image, _ = self.engine.upright(load_image(path))
            faces = self.engine.detect(image)
        except (ImageError, OSError) as exc:
            log.warning("Gallery photo %s could not be read for its lower face (%s).", path, exc)
            return None
        return embed_lower_faces(self.engine, image, faces[:1])[0] if faces else None

    def photo_count(self, name: str) -> int:
        return self._index.photo_counts.get(name, 0)

    def learned_photos(self, name: str, listing: dict[str, list[Path]] | None = None) -> list[Path]:
        """The photos the kiosk learned of `name`, oldest first (from the folder, used or not); `listing` is a
        `photos()` result to use instead of listing the folder again."""
        files = (self.photos() if listing is None else listing).get(name, [])
        return sorted((p for p in files if is_learned(p)), key=lambda p: p.name)

    def distance_to_enrolled(self, name: str, embedding: np.ndarray) -> float:
        """Distance from `embedding` to the closest of `name`'s own enrolled (not learned) photos; inf if none."""
        enrolled = self.embeddings("enrolled").get(name)
        if enrolled is None or not len(enrolled):
            return float("inf")
        probe = np.asarray(embedding, np.float64).reshape(1, -1)
        return float(per_person_distances(probe, enrolled.astype(np.float64), np.zeros(1, np.int64))[0, 0])

    def resemblance(self, name: str, embedding: np.ndarray) -> Resemblance:
        """How a face meant for `name` compares with `name`'s own enrolled photos and with everyone else's (all
        their photos, as the kiosk matches them)."""
        names, distances = self.distances_to_people(embedding)
        return resemblance(name, names, distances[0], self.distance_to_enrolled(name, embedding))

    def resemblances(self, name: str, photos: Sequence[Photo]) -> list[tuple[Photo, Resemblance]]:
        """(photo, resemblance) for each photo meant for `name` (files or RGB arrays); photos without a usable face
        are not compared: enroll() leaves them out and says why."""
        return [(photo, self.resemblance(name, embedding)) for photo in photos
                if (embedding := self.photo_embedding(photo)) is not None]

    def disagreeing_people(self, limit: float) -> list[str]:
        """People whose enrolled photos look like more than one person: they fall into groups with every photo of
        one group at least `limit` from every photo of another (a chain of alike photos, a head turned further
        and further, is one group). One small distance matrix per person, from the embeddings in memory."""
        found = []
        for name, rows in self.embeddings("enrolled").items():
            if len(rows) < 2:
                continue
            rows = rows.astype(np.float64)
            # Each photo its own "person": the (k, k) distances between the person's photos.
            linked = per_person_distances(rows, rows, np.arange(len(rows))) < limit
            if linked.all():
                continue  # the usual case: every photo like every other
            reach = linked.astype(np.int64)
            for _ in range(len(rows).bit_length()):  # squaring: paths of any length up to k in log2(k) steps
                reach = np.minimum(reach @ reach, 1)
            if not reach[0].all():
                found.append(name)
        return found

    def _cache_key(self) -> tuple[int, int, int] | None:
        try:
            info = self.cache_path.stat()
        except OSError:
            return None
        return (info.st_size, info.st_mtime_ns, info.st_ino)

    def _load_cache(self) -> dict[str, _Entry]:
        if not self.cache_path.is_file():
            return {}
        key = self._cache_key()
        if self._cache_seen is not None and key == self._cache_seen[0]:
            return self._cache_seen[1]  # the file this process read or wrote last, unchanged
        entries = self._read_cache()
        if key is not None and entries:
            self._cache_seen = (key, entries)
        return entries

    def _read_cache(self) -> dict[str, _Entry]:
        try:
            with np.load(self.cache_path, allow_pickle=False) as data:
                if str(data["format"]) != CACHE_FORMAT:
                    raise ValueError(f"cache format {data['format']!s}, expected {CACHE_FORMAT}")
                hashes, embeddings, problems = data["sha256"], data["embeddings"], data["problems"]
                if (hashes.dtype.kind != "U" or problems.dtype.kind != "U" or embeddings.dtype != np.float32
                        or hashes.ndim != 1 or problems.shape != hashes.shape
                        or embeddings.shape != (len(hashes), EMBEDDING_SIZE)):
                    raise ValueError("inconsistent array types or shapes")
                if len(set(hashes.tolist())) != len(hashes):
                    raise ValueError("a photo hash appears twice")
                usable = embeddings[problems == ""].astype(np.float64)
                if not np.isfinite(usable).all():
                    raise ValueError("non-finite embeddings")
                dlib, sface = (np.linalg.norm(part, axis=1) for part in split(usable))
                # dlib's embeddings measure about 1.3-1.6; SFace's are unit vectors
                if not ((dlib > 0.5) & (dlib < 3.0) & (np.abs(sface - 1.0) < 1e-3)).all():
                    raise ValueError("embeddings of implausible length")
                return {str(h): _Entry(None if p else e.astype(np.float32), str(p))
                        for h, e, p in zip(hashes, embeddings, problems, strict=False)}
        except Exception as exc:  # noqa: BLE001 - any damage at all: rebuild rather than trust it
            log.warning("Embedding cache %s is unusable (%s); rebuilding it from the photos.", self.cache_path, exc)
            return {}

    def _save_cache(self, entries: dict[str, _Entry]) -> None:
        hashes = sorted(entries)
        embeddings = np.stack([stored if (stored := entries[h].embedding) is not None
                               else np.full(EMBEDDING_SIZE, np.nan, np.float32) for h in hashes]) \
            if hashes else np.zeros((0, EMBEDDING_SIZE), np.float32)
        buffer = io.BytesIO()
        np.savez(buffer, format=np.array(CACHE_FORMAT), sha256=np.array(hashes, dtype="U64"),
                 embeddings=embeddings.astype(np.float32),
                 problems=np.array([entries[h].problem for h in hashes], dtype=str))
        try:
            atomic_write_bytes(self.cache_path, buffer.getvalue())
            key = self._cache_key()
            # a copy: `entries` becomes self._entries, which enroll() and mirror_person() add to before writing
            self._cache_seen = None if key is None else (key, dict(entries))
        except OSError as exc:
            log.warning("Could not save the embedding cache %s (%s); it will be rebuilt next time.",
                        self.cache_path, exc)

    def photo_embedding(self, photo: np.ndarray | str | Path) -> np.ndarray | None:
        """The face embedding of one photo (an RGB array or a file) as enroll() reads it; None when enroll() would
        leave the photo out (it reports why)."""
        try:
            image = photo if isinstance(photo, np.ndarray) else load_image(photo)
        except ImageError:
            return None  # unreadable: enroll() lists it with the reason
        return self.analyse_photo(image)[0]

    def analyse_photo(self, image_rgb: np.ndarray) -> tuple[np.ndarray | None, str]:
        """(embedding, "") for a usable enrollment photo, else (None, reason). A photo stored sideways or upside
        down is turned upright first."""
        image_rgb, _ = self.engine.upright(image_rgb)
        faces = self.engine.detect(image_rgb)
        if not faces:
            return None, "no face found"
        if len(faces) > 1 and faces[1].width >= AMBIGUOUS_SECOND_FACE * faces[0].width:
            return None, f"{len(faces)} faces found; use a photo of this person alone"
        chip = self.engine.chips(image_rgb, faces[:1])
        problems = self.engine.quality(faces[0], chip[0]).problems()
        if problems:
            return None, "; ".join(problems)
        return self.engine.embed_chips(chip, self.engine.sface_chips(image_rgb, faces[:1]))[0], ""

    def _analyse_file(self, path: Path) -> _Entry:
        try:
            image = load_image(path)
        except ImageError as exc:
            return _Entry(None, exc.reason)
        try:
            embedding, problem = self.analyse_photo(image)
        except Exception as exc:  # one odd photo must not stop the whole gallery from loading
            log.exception("Gallery photo %s could not be analysed", path)
            return _Entry(None, f"could not be analysed ({type(exc).__name__}: {exc})")
        return _Entry(embedding, problem)

    def _remove_leftovers(self, tidy_every_s: float = 0.0) -> None:
        """Temp files of killed writes, and people whose erasure was interrupted: FaceGate's own names, in its
        own folder only. Never raises. tidy_every_s: look into every person's folder only when the last look was
        longer ago (a site kiosk's copy of 10,000 people refreshes on every change; temp files wait 300 s anyway)."""
        tidy = time.monotonic() - self._tidied >= tidy_every_s
        if tidy:
            self._tidied = time.monotonic()
        if self.folder.is_dir() and self.is_own():
            remove_stale_temp_files(self.folder, min_age_s=STALE_TEMP_AGE_S)
            try:
                entries = list(self.folder.iterdir())
            except OSError:
                entries = []
            for entry in entries:
                try:
                    if entry.is_symlink() or not entry.is_dir():
                        continue
                    if _ERASING_NAME.match(entry.name):
                        left = self._erase_folder(entry)
                        if left and left != [entry]:
                            log.warning("An interrupted erasure left %s, which FaceGate did not write: not deleted.",
                                        _listing(left))
                    elif tidy and not entry.name.startswith("."):
                        remove_stale_temp_files(entry, min_age_s=STALE_TEMP_AGE_S)
                except OSError:
                    pass
        remove_stale_temp_files(self.cache_path.parent, prefix=self.cache_path.name + ".", min_age_s=STALE_TEMP_AGE_S)

    def _signature(self) -> tuple:
        """What any change to the folder by anyone (this process, the CLI, a file manager) changes: the names,
        sizes and modification times of the people and their photos. One stat per file, no reading."""
        parts: list[tuple[str, int | str, int, int]] = []
        try:
            with os.scandir(self.folder) as people:
                for entry in people:
                    if entry.name.startswith("."):
                        continue
                    info = entry.stat()
                    parts.append((entry.name, info.st_ino, info.st_mtime_ns, info.st_size))
                    if entry.is_dir():
                        with os.scandir(entry.path) as photos:
                            for photo in photos:
                                if not photo.name.startswith("."):
                                    info = photo.stat()
                                    parts.append((entry.name, photo.name, info.st_mtime_ns, info.st_size))
        except OSError as exc:  # missing or unreadable now: that is a change too (refresh says what is wrong)
            return ("unreadable", type(exc).__name__)
        return tuple(sorted(parts, key=repr))

    def refresh_if_changed(self) -> bool:
        """Refresh when the folder changed since the last refresh (another process enrolled, removed or renamed
        someone). True when it did. Called every few seconds by a running kiosk."""
        if self._signature() == self._seen:
            return False
        self.refresh()
        return True

    def refresh(self, tidy_every_s: float = 0.0) -> list[PhotoProblem]:
        """Rescan the folder, encode new or changed photos, rewrite the cache. Returns the photo problems.
        tidy_every_s: see _remove_leftovers (0: every time)."""
        with self._lock:
            self._remove_leftovers(tidy_every_s)
            self._seen = self._signature()  # before the scan: a change during it is seen at the next check
            people = self.photos()  # raises GalleryError when the folder cannot be listed: the index stays as it was
            cached = self._load_cache()
            used: dict[str, _Entry] = {}
            digests: dict[Path, tuple[tuple[int, int, int], str]] = {}
            names, rows, learned_flags, counts, problems = [], [], [], {}, []
            enrolled_files: dict[str, list[tuple[Path, str]]] = {}
            for name, files in people.items():
                person_rows, person_learned, person_files = [], [], []
                for path in files:
                    if not is_image_name(path):
                        problems.append(PhotoProblem(path, "not an image file (expected .jpg, .png, ...)"))
                        continue
                    if path.is_symlink():  # never followed: it could point at anything (/proc, a 3 GB file)
                        problems.append(PhotoProblem(path, "a link, not a photo file; copy the photo itself into "
                                                           "the folder"))
                        continue
                    try:
                        info = path.stat()
                        problem = file_problem(info)  # type and size first: nothing unreadable is hashed
                        if problem:
                            problems.append(PhotoProblem(path, problem))
                            continue
                        key = (info.st_size, info.st_mtime_ns, info.st_ino)
                        known = self._digests.get(path)
                        digest = known[1] if known is not None and known[0] == key else _sha256(path)
                        digests[path] = (key, digest)
                    except OSError as exc:
                        problems.append(PhotoProblem(path, f"cannot read the file ({exc.strerror or exc})"))
                        continue
                    entry = (used.get(digest) or cached.get(digest) or self._entries.get(digest)
                             or self._analyse_file(path))
                    used[digest] = entry
                    if entry.problem:
                        problems.append(PhotoProblem(path, entry.problem))
                    else:
                        person_rows.append(entry.embedding)
                        person_learned.append(is_learned(path))
                        if not is_learned(path):
                            person_files.append((path, digest))
                if person_rows and all(person_learned):
                    # What the kiosk learned only ever adds to a person's own photos; it never stands alone.
                    problems.extend(PhotoProblem(p, "learned at the kiosk, not used: the person has no usable "
                                                    "enrolled photo of their own") for p in files if is_learned(p))
                    person_rows = []
                if person_rows:
                    names.append(name)
                    rows.extend(person_rows)
                    learned_flags.extend(person_learned)
                    counts[name] = len(person_rows)
                    enrolled_files[name] = person_files
            if set(used) != set(cached) or any(used[h] is not cached.get(h) for h in used):
                self._save_cache(used)
            self._entries = used  # a cache that cannot be written costs no re-encoding while we run
            self._lower_faces = {digest: row for digest, row in self._lower_faces.items() if digest in used}
            self._digests = digests
            for left_out in problems:
                log.warning("Gallery photo left out: %s", left_out)
            embeddings = np.array(rows, np.float32).reshape(-1, EMBEDDING_SIZE)
            starts = group_starts([counts[n] for n in names])
            self._index = _Index(names, embeddings, (embeddings ** 2).sum(1), starts, counts,
                                 np.array(learned_flags, bool), enrolled_files)
            self.problems = problems
            return problems

    # ----------------------------------------------------------------------------------- matching
    def distances_to_people(self, probes: np.ndarray) -> tuple[list[str], np.ndarray]:
        """The enrolled people, and each probe embedding's distance to each person's closest photo (a (probes,
        people) array), from one snapshot of the gallery: what the kiosk matches on. A learned photo counts only
        where the person's enrolled photos are under `threshold` (matching.distances_with_learned)."""
        index = self._index
        probes = np.asarray(probes, np.float32).reshape(-1, EMBEDDING_SIZE)
        if not index.names:
            return [], np.zeros((len(probes), 0), np.float32)
        return index.names, distances_with_learned(probes, index.embeddings, index.starts, index.learned,
                                                   self.threshold, squared_norms=index.squared_norms)

    def match_many(self, probes: np.ndarray) -> list[Match]:
        """Best person, distance and margin to the second-best person, for each probe embedding."""
        return best_two(*self.distances_to_people(probes))

    def match(self, embedding: np.ndarray) -> Match:
        return self.match_many(np.asarray(embedding)[None])[0]

    # ----------------------------------------------------------------------------------- editing
    def _person_dir(self, name: str) -> Path:
        return self.folder / name

    def _existing_name_like(self, name: str) -> str | None:
        folded = name.casefold()
        return next((n for n in self.photos() if n.casefold() == folded), None)

    def _check_name(self, name: str, allow_new_person: bool) -> None:
        check_enrollment_name(name, self._existing_name_like(name), allow_new_person)

    def enroll(self, name: str, photos: list, allow_new_person: bool = True) -> tuple[list[Path], list[PhotoProblem]]:
        """Add photos (file paths or RGB arrays) of `name`. Only usable photos are saved.
        Returns (saved paths, problems). Raises GalleryError when nothing could be saved."""
        name = validate_name(name)
        self._check_name(name, allow_new_person)  # early: a clear answer before any photo is read
        accepted, problems = self.prepare_photos(name, photos)
        with self._editing():
            self._check_name(name, allow_new_person)  # again, now that no other process can enroll meanwhile
            saved = self._save_photos(name, [(data, suffix) for data, suffix, _ in accepted])
            for data, _, embedding in accepted:  # encoded once: the refresh below finds them here
                self._entries[hashlib.sha256(data).hexdigest()] = _Entry(embedding, "")
            self.refresh()
        return saved, problems

    def prepare_photos(self, name: str, photos: list) -> tuple[list[tuple[bytes, str, np.ndarray]], list[PhotoProblem]]:
        """What enroll() would store for `name`: (bytes, file suffix, embedding) of each usable photo (file paths
        or RGB arrays), and the problems of the others. Raises GalleryError when no photo is usable. Used by
        enroll() and by a site server's enrollment (facegate/site/), which stores the same bytes."""
        accepted: list[tuple[bytes, str, np.ndarray]] = []
        problems: list[PhotoProblem] = []
        for index, photo in enumerate(photos):
            if isinstance(photo, np.ndarray):
                source = Path(f"snapshot {index + 1}")
                data = cv2.imencode(".jpg", cv2.cvtColor(photo, cv2.COLOR_RGB2BGR),
                                    [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
                # Read back what is saved: its embedding is then exactly what a restart would compute.
                image = _jpeg_pixels(data)
                suffix = ".jpg"
            else:
                source = Path(photo)
                try:
                    image = load_image(source)
                    data = source.read_bytes()
                except ImageError as exc:
                    problems.append(PhotoProblem(source, exc.reason))
                    continue
                except OSError as exc:
                    problems.append(PhotoProblem(source, f"cannot read the file ({exc.strerror or exc})"))
                    continue
                suffix = source.suffix.lower() if is_image_name(source) else ".jpg"
                bulky = data[:2] == b"\xff\xd8" and metadata_bytes(data) > MAX_METADATA_BYTES
                if len(data) > MAX_STORED_BYTES or bulky:
                    # Kept as the pixels only (upright, at most MAX_PHOTO_SIDE): a 98 MB EXIF block or a file padded
                    # with junk is not copied into the gallery.
                    data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                                        [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
                    image = _jpeg_pixels(data)
                    suffix = ".jpg"
            embedding, problem = self.analyse_photo(image)
            if problem:
                problems.append(PhotoProblem(source, problem))
            else:
                assert embedding is not None  # analyse_photo gives an embedding whenever it finds no problem
                accepted.append((data, suffix, embedding))
        if not accepted:
            detail = "; ".join(str(p) for p in problems) or "no photos given"
            raise GalleryError(f"Nothing enrolled for {name!r}: {detail}")
        return accepted, problems

    def mirror_person(self, name: str, photos: dict[str, tuple[bytes | None, np.ndarray | None, str]],
                      refresh: bool = True) -> bool:
        """Make `name`'s photos exactly `photos` (file name -> (bytes, embedding or None, problem)), as a site
        server holds them (facegate/site/sync.py keeps this gallery as its replica): missing files are written, files
        not listed are deleted, known embeddings are taken as they are (no encoding). Bytes may be None for a file
        already here with those contents. An empty `photos` erases the person. True when anything changed.
        refresh=False: the caller refreshes once after copying many people (matching still uses the old index)."""
        name = validate_name(name)
        if not photos:
            if name in self.photos():
                Gallery.remove(self, name)  # this folder's copy (a subclass's remove may mean the server's)
                return True
            return False
        with self._editing():
            person_dir = self._person_dir(name)
            try:
                ensure_private_dir(person_dir)
                present = {p.name for p in person_dir.iterdir() if p.is_file() and not p.name.startswith(".")}
                changed = False
                for file_name, (data, embedding, problem) in photos.items():
                    if Path(file_name).name != file_name or file_name.startswith("."):
                        raise GalleryError(f"The site server sent a photo name {file_name!r} that is not a plain "
                                           "file name; left out.")
                    if data is not None:
                        self._entries[hashlib.sha256(data).hexdigest()] = _Entry(embedding, problem)
                        if file_name not in present:
                            atomic_write_bytes(person_dir / file_name, data)
                            changed = True
                for extra in sorted(present - set(photos)):
                    if _deletable(person_dir / extra):
                        changed |= _delete(person_dir / extra, "the next change of this person retries")
            except OSError as exc:
                raise GalleryError(f"Could not copy the photos of {name!r} into the replica folder {self.folder}: "
                                   f"{describe_os_error(exc)}; {what_to_do(exc)}") from exc
            if changed and refresh:
                self.refresh(tidy_every_s=MIRROR_TIDY_S)
            return changed

    @contextmanager
    def _editing(self) -> Iterator[None]:
        """Hold the gallery for one change: against this process's other threads, and (where the system offers
        file locks) against other FaceGate processes: two enrollments at once cannot both create "Casey" and
        "casey". Makes the folder FaceGate's first (see _claim)."""
        with self._lock:
            self._claim()
            handle = None
            if fcntl is not None:
                try:
                    # written once, never replaced: lockable; held until the edit ends (closed below)
                    handle = open(self.folder / GALLERY_MARKER, "rb")  # noqa: SIM115
                    fcntl.flock(handle, fcntl.LOCK_EX)
                except OSError as exc:
                    if handle is not None:
                        handle.close()
                    raise GalleryError(f"Could not lock the gallery folder {self.folder} for a change: "
                                       f"{describe_os_error(exc)}; {what_to_do(exc)}") from exc
            try:
                yield
            finally:
                if handle is not None:
                    handle.close()

    def _save_photos(self, name: str, accepted: list[tuple[bytes, str]], prefix: str = "") -> list[Path]:
        """Write the accepted photos (file names: `prefix` and a content hash), all or none: on any failure what
        this call wrote is taken back and GalleryError names the folder and the cause. Called under _editing()
        (which has made the folder FaceGate's)."""
        person_dir = self._person_dir(name)
        created: list[Path] = []  # folders and files that did not exist before this call
        moved: list[tuple[Path, Path]] = []
        saved: list[Path] = []
        try:
            if person_dir.is_symlink():
                raise GalleryError(f"{person_dir} is a link to another folder; FaceGate keeps photos only in "
                                   "folders of its own. Replace the link by a folder.")
            if not person_dir.is_dir():
                ensure_private_dir(person_dir)
                created.append(person_dir)
            else:
                ensure_private_dir(person_dir)
            for data, suffix in accepted:
                target = person_dir / f"{prefix}{hashlib.sha256(data).hexdigest()[:16]}{suffix}"
                existed = target.exists()  # the same photo enrolled before: same name, same bytes
                atomic_write_bytes(target, data)
                if not existed:
                    created.append(target)
                saved.append(target)
            # A top-level <Name>.jpg joins the person's folder, so the person lives in one place.
            for loose in [p for p in self.folder.iterdir() if p.is_file() and p.stem == name and is_image_name(p)]:
                loose.rename(person_dir / loose.name)
                moved.append((person_dir / loose.name, loose))
        except OSError as exc:
            for path in reversed(created):
                with suppress(OSError):
                    path.rmdir() if path.is_dir() else path.unlink()
            for now_at, was_at in reversed(moved):
                with suppress(OSError):
                    now_at.rename(was_at)
            raise GalleryError(f"Could not save the photos of {name!r} in the gallery folder {self.folder}: "
                               f"{describe_os_error(exc)}. Nothing was enrolled; {what_to_do(exc)}") from exc
        return saved

    def add_learned_photo(self, name: str, jpeg: bytes, captured: float, keep: int) -> Path:
        """Save a face the kiosk captured of `name` (JPEG bytes, taken at epoch time `captured`) as a learned
        photo; the oldest learned photos beyond `keep` are deleted. Raises GalleryError when `name` is no longer
        enrolled (removed or renamed meanwhile) or the photo cannot be saved."""
        with self._editing():
            if name not in self.photos():
                raise GalleryError(f"{name!r} is not enrolled any more; nothing learned.")
            stamp = datetime.fromtimestamp(captured, timezone.utc).strftime(LEARNED_TIME_FORMAT)
            [saved] = self._save_photos(name, [(jpeg, ".jpg")], prefix=f"{LEARNED_PREFIX}{stamp}-")
            for old in self.learned_photos(name)[:-keep] if keep > 0 else self.learned_photos(name):
                _delete(old, "it stays until the next photo is learned")
            self.refresh()
            return saved

    def forget_learned(self, name: str) -> int:
        """Delete every photo the kiosk learned of `name` (their enrolled photos stay). Returns how many."""
        with self._editing():
            files = self.learned_photos(name)
            try:
                for path in files:
                    path.unlink(missing_ok=True)
            except OSError as exc:
                raise GalleryError(f"Could not delete the learned photos of {name!r} in {self.folder}: "
                                   f"{describe_os_error(exc)}.") from exc
            self.refresh()
            return len(files)

    def remove(self, name: str) -> int:
        """Erase a person: all their photos, and their cached embeddings (the cache is rewritten without them).
        Returns the number of photo files deleted. Refused (GalleryError naming the paths, nothing deleted) when
        the folder is not a gallery, or the person's folder holds anything but photos or is a link."""
        with self._editing():
            files = self.photos().get(name)
            if files is None:
                raise GalleryError(f"{name!r} is not enrolled.")
            person_dir = self._person_dir(name)
            if person_dir.is_symlink():
                raise GalleryError(f"{name!r} was not removed: {person_dir} is a link to "
                                   f"{person_dir.resolve()}, and FaceGate does not delete through links. Delete "
                                   "the photos there yourself, then the link.")
            if person_dir.is_dir():
                others = [p for p in sorted(person_dir.iterdir()) if not _deletable(p)]
                if others:
                    raise GalleryError(f"{name!r} was not removed: their folder also holds {_listing(others)}, "
                                       f"which FaceGate did not put there. Move that out of {person_dir}, then "
                                       "remove them again.")
            count = 0
            try:
                if person_dir.is_dir():
                    count += sum(1 for p in person_dir.iterdir() if is_image_name(p))
                    # One atomic rename hides every photo at once: a crash half-way through the deletion cannot
                    # leave the person half-enrolled; the hidden folder's deletion is finished by any refresh.
                    hidden = self.folder / f".{secrets.token_hex(4)}{ERASING_SUFFIX}"
                    person_dir.rename(hidden)
                    if self._erase_folder(hidden):
                        log.warning("Photos of %r could not all be deleted yet; the next refresh retries.", name)
                for path in files:
                    if path.parent == self.folder and path.exists():  # a loose <name>.jpg
                        path.unlink()
                        count += 1
            except OSError as exc:
                raise GalleryError(f"Could not erase {name!r} from the gallery folder {self.folder}: "
                                   f"{describe_os_error(exc)}.") from exc
            self.refresh()
            return count

    def rename(self, old: str, new: str) -> None:
        new = validate_name(new)
        with self._editing():
            people = self.photos()
            if old not in people:
                raise GalleryError(f"{old!r} is not enrolled.")
            clash = self._existing_name_like(new)
            if clash is not None and clash != old:
                raise GalleryError(f"{clash!r} is already enrolled; choose another name or remove them first.")
            target = self._person_dir(new)
            source_dir = self._person_dir(old)
            try:
                if source_dir.is_dir():
                    source_dir.rename(target)
                else:
                    ensure_private_dir(target)
                for path in people[old]:
                    if path.parent == self.folder:  # a top-level <old>.jpg
                        path.rename(target / path.name)
            except OSError as exc:
                raise GalleryError(f"Could not rename {old!r} to {new!r} in the gallery folder {self.folder}: "
                                   f"{describe_os_error(exc)}.") from exc
            self.refresh()
