"""The enrolled-faces folder: layouts, photo problems, the embedding cache, matching, editing."""

import shutil

import cv2
import numpy as np
import pytest
from helpers import CountingEngine

from facegate.errors import GalleryError
from facegate.gallery import EMBEDDING_SIZE, Gallery, validate_name
from facegate.imageio import load_image


def _write(path, image_rgb):
    cv2.imwrite(str(path), cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))


def test_both_layouts_and_matching(people_gallery, engine, clips):
    gallery = Gallery(people_gallery, engine)
    assert gallery.refresh() == []
    assert set(gallery.people) == {"Lin-Manuel Miranda", "alex_lacamoire", "biden", "kit_harington",
                                   "obama", "rose_leslie"}
    assert gallery.photo_count("Lin-Manuel Miranda") == 1
    image = load_image(clips / "people_small" / "test" / "obama1.jpg")
    match = gallery.match(engine.embed(image, engine.detect(image)[:1])[0])
    assert match.name == "obama" and match.distance < 0.5 and match.margin > 0.2
    assert match.second_name != "obama"


def test_match_agrees_with_brute_force(people_gallery, engine):
    gallery = Gallery(people_gallery, engine)
    gallery.refresh()
    rng = np.random.default_rng(0)
    index = gallery._index
    probes = index.embeddings[rng.integers(0, len(index.embeddings), 5)] + rng.normal(0, 0.02, (5, EMBEDDING_SIZE))
    owners = np.repeat(index.names, [index.photo_counts[n] for n in index.names])
    for probe, match in zip(probes, gallery.match_many(probes), strict=False):
        distances = np.linalg.norm(index.embeddings - probe, axis=1)
        per_person = {n: distances[owners == n].min() for n in index.names}
        ranked = sorted(per_person, key=per_person.get)
        assert match.name == ranked[0]
        assert match.distance == pytest.approx(per_person[ranked[0]], abs=1e-4)
        assert match.margin == pytest.approx(per_person[ranked[1]] - per_person[ranked[0]], abs=1e-4)


def test_empty_gallery_matches_nobody(tmp_path, engine):
    gallery = Gallery(tmp_path / "none", engine)
    assert gallery.refresh() == [] and gallery.people == []
    assert gallery.match(np.zeros(EMBEDDING_SIZE)).name is None


def test_bad_photos_are_reported_by_file_name_and_left_out(tmp_path, engine, clips):
    folder = tmp_path / "gallery"
    person = folder / "Barack Obama"
    person.mkdir(parents=True)
    obama = load_image(clips / "obama.jpg")
    _write(person / "good.jpg", obama)
    _write(person / "blurred.jpg", cv2.GaussianBlur(obama, (0, 0), 12))
    _write(person / "tiny.jpg", cv2.resize(obama, None, fx=0.12, fy=0.12, interpolation=cv2.INTER_AREA))
    _write(person / "noface.jpg", np.full((300, 300, 3), 127, np.uint8))
    shutil.copy(clips / "two_people.jpg", person / "group.jpg")
    (person / "notes.txt").write_text("not a photo")
    (person / "empty.jpg").write_bytes(b"")
    (person / "truncated.jpg").write_bytes((clips / "obama.jpg").read_bytes()[:2000])
    gallery = Gallery(folder, engine)
    problems = {p.path.name: p.reason for p in gallery.refresh()}
    assert gallery.people == ["Barack Obama"] and gallery.photo_count("Barack Obama") == 1
    assert "blurred" in problems["blurred.jpg"]
    assert "too small" in problems["tiny.jpg"] or "no face" in problems["tiny.jpg"]
    assert problems["noface.jpg"] == "no face found"
    assert "2 faces" in problems["group.jpg"]
    assert "not an image" in problems["notes.txt"]
    assert "empty" in problems["empty.jpg"]
    assert "truncated.jpg" in problems


def test_cache_is_incremental_and_survives_restart(people_gallery, engine, clips):
    counting = CountingEngine(engine)
    gallery = Gallery(people_gallery, counting)
    gallery.refresh()
    first = counting.encoded
    assert first >= 6 and gallery.cache_path.is_file()

    fresh = Gallery(people_gallery, counting)  # a restart: everything comes from the cache
    fresh.refresh()
    assert counting.encoded == first

    shutil.copy(clips / "obama-1080p.jpg", people_gallery / "obama" / "new.jpg")  # added
    (people_gallery / "biden").joinpath(sorted((people_gallery / "biden").iterdir())[0].name).unlink()  # removed
    fresh.refresh()
    assert counting.encoded == first + 1
    assert fresh.photo_count("obama") == 3

    shutil.copy(clips / "obama-240p.jpg", people_gallery / "obama" / "new.jpg")  # replaced, same name
    fresh.refresh()
    assert counting.encoded == first + 2


@pytest.mark.parametrize("damage", [b"", b"garbage", None])
def test_corrupt_cache_is_rebuilt(people_gallery, engine, damage):
    counting = CountingEngine(engine)
    gallery = Gallery(people_gallery, counting)
    gallery.refresh()
    expected = {n: gallery.photo_count(n) for n in gallery.people}
    data = gallery.cache_path.read_bytes()
    gallery.cache_path.write_bytes(data[: len(data) // 2] if damage is None else damage)
    before = counting.encoded
    rebuilt = Gallery(people_gallery, counting)
    rebuilt.refresh()
    assert counting.encoded > before  # nothing trusted from the damaged file
    assert {n: rebuilt.photo_count(n) for n in rebuilt.people} == expected


@pytest.mark.parametrize("name", ["", "  ", "a/b", "a\\b", "..", ".", ".hidden", "tab\there", "nul\0x", "x" * 101])
def test_unsafe_names_are_refused(name):
    with pytest.raises(GalleryError):
        validate_name(name)


def test_unicode_names_are_kept():
    assert validate_name("  Zoë Ångström-O'Neil ") == "Zoë Ångström-O'Neil"
    assert validate_name("李小龍") == "李小龍"


def test_enroll_rename_remove(tmp_path, engine, clips):
    folder = tmp_path / "gallery"
    gallery = Gallery(folder, engine)
    saved, problems = gallery.enroll("Barack Obama", [clips / "obama.jpg", clips / "two_people.jpg",
                                                      load_image(clips / "obama2.jpg")])
    assert len(saved) == 2 and len(problems) == 1 and "2 faces" in problems[0].reason
    assert gallery.people == ["Barack Obama"] and gallery.photo_count("Barack Obama") == 2
    assert (folder.stat().st_mode & 0o777) == 0o700
    assert all((p.stat().st_mode & 0o777) == 0o600 for p in saved)

    with pytest.raises(GalleryError, match="only in upper/lower case"):
        gallery.enroll("barack obama", [clips / "obama.jpg"])
    with pytest.raises(GalleryError, match="Nothing enrolled"):
        gallery.enroll("Nobody", [clips / "two_people.jpg"])
    assert "Nobody" not in gallery.people and not (folder / "Nobody").exists()

    gallery.rename("Barack Obama", "Obama")
    assert gallery.people == ["Obama"] and gallery.photo_count("Obama") == 2

    cached_before = np.load(gallery.cache_path)["embeddings"]
    assert len(cached_before) == 2
    assert gallery.remove("Obama") == 2
    assert gallery.people == [] and [p.name for p in folder.iterdir()] == [".facegate-gallery"]  # only the marker
    with np.load(gallery.cache_path) as cache:
        assert len(cache["embeddings"]) == 0  # no embedding of the erased person remains


def test_top_level_photo_moves_into_the_person_folder_on_enroll(tmp_path, engine, clips):
    folder = tmp_path / "gallery"
    folder.mkdir()
    shutil.copy(clips / "obama.jpg", folder / "Obama.jpg")
    gallery = Gallery(folder, engine)
    gallery.refresh()
    assert gallery.photo_count("Obama") == 1
    gallery.enroll("Obama", [clips / "obama2.jpg"])
    assert gallery.photo_count("Obama") == 2
    assert not (folder / "Obama.jpg").exists() and (folder / "Obama" / "Obama.jpg").exists()


def test_resemblance_tells_a_photo_of_someone_else(tmp_path, engine, clips):
    gallery = Gallery(tmp_path / "gallery", engine)
    gallery.enroll("Lin-Manuel Miranda", [clips / "lin-manuel-miranda.png"])
    gallery.enroll("Barack Obama", [clips / "obama2.jpg"])
    obama = gallery.photo_embedding(clips / "obama.jpg")
    assert obama is not None and gallery.photo_embedding(clips / "two_people.jpg") is None  # enroll leaves it out

    wrong = gallery.resemblance("Lin-Manuel Miranda", obama)
    assert wrong.other == "Barack Obama" and wrong.other_distance < 0.48 < 0.6 < wrong.own < 1.0
    assert wrong.looks_like_someone_else(0.48) and wrong.unlike_own(0.6) and wrong.mixes_identities(0.48, 0.6)
    right = gallery.resemblance("Barack Obama", obama)
    assert right.own == pytest.approx(wrong.other_distance) and right.other == "Lin-Manuel Miranda"
    assert not right.mixes_identities(0.48, 0.6)
    newcomer = gallery.resemblance("Nobody Yet", obama)  # no photos of their own: only the others count
    assert newcomer.own == float("inf") and newcomer.other == "Barack Obama"
    assert newcomer.mixes_identities(0.48, 0.6) and not newcomer.unlike_own(0.6)
    alone = Gallery(tmp_path / "alone", engine)
    alone.enroll("Barack Obama", [clips / "obama2.jpg"])
    assert alone.resemblance("Barack Obama", obama).other is None

    assert gallery.disagreeing_people(0.6) == []
    gallery.enroll("Lin-Manuel Miranda", [clips / "obama.jpg"])
    assert gallery.disagreeing_people(0.6) == ["Lin-Manuel Miranda"]


def test_disagreeing_people_groups_photos_by_chains_of_alike_faces(tmp_path, engine, monkeypatch):
    def at(*xs):  # photos on a line: their distances are the differences of `xs`
        rows = np.zeros((len(xs), EMBEDDING_SIZE))
        rows[:, 0] = xs
        return rows

    gallery = Gallery(tmp_path / "gallery", engine)
    people = {"turning head": at(0.0, 0.4, 0.8, 1.2),  # first and last 1.2 apart, each next to the one before
              "two pairs": at(0.0, 0.1, 1.0, 1.1), "one stray": at(0.0, 0.3, 0.2, 0.9), "one photo": at(0.0),
              "twins": at(0.0, 0.0)}
    monkeypatch.setattr(gallery, "embeddings", lambda kind="all": people)
    assert gallery.disagreeing_people(0.6) == ["two pairs", "one stray"]
    assert gallery.disagreeing_people(0.35) == ["turning head", "two pairs", "one stray"]
