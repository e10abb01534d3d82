"""Per-site threshold calibration: the confidence bounds, the scores, the recommendation rules, and the whole
`facegate calibrate` command on galleries built from LFW, checked against LFW people it never saw."""

import argparse
import contextlib
import csv
import io
import json
import logging
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from facegate import calibration
from facegate.calibration import (
    CALIBRATED,
    MAX_THRESHOLD,
    TOO_FEW_IMPOSTORS,
    TOO_SMALL,
    Scores,
    calibrate_folders,
    compute_scores,
    error_curve,
    gallery_embeddings,
    impostors_needed,
    interval,
    lower_bound,
    recommend,
    upper_bound,
    write_report,
)
from facegate.cli import register_calibrate as register_cli
from facegate.config import Settings
from facegate.gallery import Gallery

# --------------------------------------------------------------------------------------- bounds (pure)


def test_clopper_pearson_matches_known_values():
    # k = 0 has a closed form: 1 - alpha^(1/n); n = 300 is the textbook "rule of three" example (3/300 = 1 %).
    assert upper_bound(0, 300) == pytest.approx(0.0099361, abs=1e-6)
    assert upper_bound(0, 3000) == pytest.approx(3 / 3000, rel=0.01)
    # Two-sided 95 % intervals as printed by R's binom.test (exact Clopper-Pearson).
    assert interval(1, 10) == pytest.approx((0.002528579, 0.445016117), abs=1e-8)
    assert interval(5, 20) == pytest.approx((0.08657147, 0.49104587), abs=1e-7)
    assert interval(0, 10) == pytest.approx((0.0, 0.3084971), abs=1e-7)
    assert interval(10, 10) == pytest.approx((0.6915029, 1.0), abs=1e-7)
    # One-sided 95 % upper bound for 3 in 1,000 (Poisson approximation 7.75/1000; exact is a hair lower).
    assert upper_bound(3, 1000) == pytest.approx(0.007735, abs=2e-6)
    assert lower_bound(0, 50) == 0.0 and upper_bound(50, 50) == 1.0


def test_bound_is_exact_for_large_samples():
    # Millions of comparisons and thousands of events: summed in log space, no overflow or underflow.
    k, n = 2_000, 1_000_000
    upper = upper_bound(k, n)
    assert k / n < upper < k / n + 3 * np.sqrt(k) / n
    assert calibration._binomial_cdf(k, n, upper) == pytest.approx(0.05, abs=1e-6)


def test_impostors_needed_is_the_rule_of_three():
    for target in (0.01, 0.001, 0.0001):
        needed = impostors_needed(target)
        assert upper_bound(0, needed) <= target < upper_bound(0, needed - 1)
        assert needed == pytest.approx(3 / target, rel=0.01)
    assert impostors_needed(0.001) == 2995


# --------------------------------------------------------------------------------------- scores and rules (pure)


def _line(*positions):
    """Embeddings on one axis of the 128-d space, so every distance can be checked by hand."""
    rows = np.zeros((len(positions), 128), np.float32)
    rows[:, 0] = positions
    return rows


def test_scores_are_leave_one_out_and_per_person():
    people = {"Ada": _line(0.0, 0.3), "Bob": _line(1.0, 1.2), "Cy": _line(3.0)}
    scores = compute_scores(people, strangers=_line(0.5))
    assert scores.people == 3 and scores.photos == 5 and scores.people_with_pairs == 2
    # Each photo against its own person's OTHER photo, never itself.
    assert scores.genuine == pytest.approx([0.3, 0.3, 0.2, 0.2])
    # The same probes against the closest other person.
    assert scores.genuine_rival == pytest.approx([1.0, 0.7, 0.7, 0.9])
    # Impostors: every enrolled photo against the other people (Cy's single photo too), then the stranger
    # against everyone (closest: Ada's photo at 0.3).
    assert scores.impostor == pytest.approx([1.0, 0.7, 0.7, 0.9, 1.8, 0.2])
    assert scores.impostor_from_gallery == 5 and scores.impostor_from_folder == 1
    assert scores.comparisons == 5 * 2 + 1 * 3
    curve = error_curve(scores, np.array([0.25, 0.5, 0.75]))
    assert curve.far == pytest.approx([1 / 6, 1 / 6, 3 / 6])
    assert curve.frr == pytest.approx([0.5, 0.0, 0.0])


def test_genuine_probe_closer_to_someone_else_is_a_false_reject():
    people = {"Ada": _line(0.0, 0.4), "Bob": _line(0.5, 2.0)}  # Ada's second photo is nearer Bob's first
    scores = compute_scores(people)
    assert calibration.genuine_accepts(scores, 0.45) == 1  # only Ada's first photo: 0.4 from her second
    assert scores.genuine_rival[1] == pytest.approx(0.1)


def _synthetic(n_impostor, n_genuine=200, impostor_centre=0.8, people_with_pairs=20, seed=0):
    rng = np.random.default_rng(seed)
    genuine = rng.normal(0.38, 0.06, n_genuine)
    return Scores(genuine, np.full(n_genuine, np.inf), rng.normal(impostor_centre, 0.07, n_impostor),
                  n_impostor, people_with_pairs * 2, people_with_pairs * 10, people_with_pairs, n_impostor * 10)


def test_gallery_too_small_keeps_the_default():
    report = recommend(_synthetic(5000, people_with_pairs=1), 0.01, default_threshold=0.5)
    assert report.status == TOO_SMALL and report.threshold == 0.5 and not report.can_apply
    assert "too small to calibrate" in report.messages[0]


def test_too_few_impostors_says_how_many_are_needed():
    report = recommend(_synthetic(1000), 0.001, default_threshold=0.5)
    assert report.status == TOO_FEW_IMPOSTORS and report.threshold <= 0.5
    assert "Too few impostor comparisons to confirm 0.1 %" in report.messages[0]
    assert "need >= 2,995" in report.messages[0] and "--impostors" in report.messages[0]
    # The more conservative of the default and the last threshold that accepted no impostor.
    low = recommend(_synthetic(1000, impostor_centre=0.5), 0.001, default_threshold=0.5)
    assert low.threshold == pytest.approx(np.floor(low.scores.impostor.min() * 1000) / 1000)
    assert low.false_accepts == 0


def test_never_recommends_above_dlibs_equal_error_point():
    report = recommend(_synthetic(20000, impostor_centre=1.1), 0.01, default_threshold=0.5)
    assert report.status == CALIBRATED and report.threshold == MAX_THRESHOLD
    assert report.clamped_from > MAX_THRESHOLD and "never recommends a threshold above 0.60" in report.messages[0]


@hypothesis_settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(300, 20_000), centre=st.floats(0.45, 0.9),
       target=st.sampled_from([0.01, 0.001]))
def test_recommendation_keeps_the_bound_under_the_target(seed, n, centre, target):
    report = recommend(_synthetic(n, impostor_centre=centre, seed=seed), target, default_threshold=0.5)
    assert report.threshold <= MAX_THRESHOLD
    if report.status == CALIBRATED:
        assert report.far_upper <= target
        # Largest such threshold (on the 0.001 grid): one step higher accepts an impostor more and breaks it.
        step_up = report.threshold + 0.001
        if report.clamped_from is None:
            k = calibration.false_accepts(report.scores, step_up)
            assert k > report.false_accepts and upper_bound(k, n) > target
    else:
        assert report.status == TOO_FEW_IMPOSTORS and n < impostors_needed(target)


def test_target_far_accepts_fractions_and_percent():
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["calibrate", "--target-far", "0.1%"]).target_far == pytest.approx(0.001)
    assert parser.parse_args(["calibrate"]).target_far == 0.001
    with pytest.raises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
        parser.parse_args(["calibrate", "--target-far", "2"])


def _written(report, folder: Path) -> dict[str, Path]:
    written = write_report(report, folder)
    assert all(path.parent == folder and path.stat().st_mode & 0o077 == 0 for path in written.values())
    return written


def test_curves_csv_holds_the_reports_numbers(tmp_path):
    report = recommend(_synthetic(20000), 0.01, default_threshold=0.5)
    written = _written(report, tmp_path)
    assert set(written) == {"report.txt", "curves.csv", "scores.png", "det.png"}
    with written["curves.csv"].open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(calibration.CURVE_COLUMNS)
    assert len(rows) == len(error_curve(report.scores).thresholds)
    chosen = next(row for row in rows if row["threshold"] == f"{report.threshold:.3f}")
    assert int(chosen["false_accepts"]) == report.false_accepts
    assert int(chosen["impostor_probes"]) == len(report.scores.impostor) == 20000
    assert float(chosen["far"]) == pytest.approx(report.far, rel=1e-5)
    assert int(chosen["genuine_accepted"]) == report.genuine_accepted
    assert int(chosen["genuine_probes"]) == len(report.scores.genuine)
    assert float(chosen["frr"]) == pytest.approx(report.frr, rel=1e-5, abs=1e-9)
    # Rates only grow with the threshold on one side and fall on the other.
    assert np.all(np.diff([float(row["far"]) for row in rows]) >= 0)
    assert np.all(np.diff([float(row["frr"]) for row in rows]) <= 0)


def test_plots_are_png_images(tmp_path):
    report = recommend(_synthetic(20000), 0.01, default_threshold=0.5)
    written = _written(report, tmp_path)
    for name in ("scores.png", "det.png"):
        data = written[name].read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[:2] == (540, 900) and image.std() > 10, name
    # Both thresholds' colours are drawn in the score plot: the recommended one (blue) and the default (grey).
    scores = cv2.imdecode(np.frombuffer(written["scores.png"].read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    assert (np.abs(scores.astype(int) - (200, 90, 0)).sum(axis=2) < 30).sum() > 100
    assert (np.abs(scores.astype(int) - (120, 120, 120)).sum(axis=2) < 30).sum() > 100


def test_without_matplotlib_the_numbers_are_written_and_the_plots_explained(tmp_path, monkeypatch, caplog):
    # As if it were not installed: every import of matplotlib or of a part of it fails, loaded before or not.
    for name in ["matplotlib"] + [n for n in sys.modules if n.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    report = recommend(_synthetic(5000), 0.01, default_threshold=0.5)
    with caplog.at_level(logging.WARNING, logger="facegate.calibration"):
        written = _written(report, tmp_path)
    assert set(written) == {"report.txt", "curves.csv"} and not list(tmp_path.glob("*.png"))
    assert 'pip install "facegate[plots]"' in caplog.text


# --------------------------------------------------------------------------------------- LFW end to end

GALLERY_PEOPLE = 50  # >= 4 photos each: 3 enrolled, the rest kept back as genuine probes
IMPOSTOR_PEOPLE = 1000  # the --impostors folder: one photo each
HELD_BACK_PEOPLE = 1000  # strangers never seen by the calibration: one photo each
TARGET = 0.01
SEED = 5


def _copy(files, folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copy(path, folder / path.name)
        (folder / path.name).chmod(0o600)  # the shared data is read-only; the copies must not be


def _calibrate_cli(*args, engine) -> str:
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers(dest="command"))
    parsed = parser.parse_args(["calibrate", *map(str, args)])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert parsed.func(parsed, engine=engine) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def lfw_site(lfw, engine, tmp_path_factory):
    """A site built from LFW: 50 enrolled people, 1,000 people for --impostors, 1,000 held-back strangers and the
    enrolled people's held-back photos, all different people; calibrated once at 1 % with --apply."""
    root = tmp_path_factory.mktemp("site")
    people = {d.name: sorted(d.glob("*.jpg")) for d in sorted((lfw / "images").iterdir()) if d.is_dir()}
    rng = np.random.default_rng(SEED)
    enrolled = sorted(rng.choice(sorted(n for n, f in people.items() if len(f) >= 4), GALLERY_PEOPLE, replace=False))
    others = [n for n in rng.permutation(sorted(people)) if n not in set(enrolled)]
    for name in enrolled:
        photos = list(rng.permutation(people[name]))
        _copy(photos[:3], root / "gallery" / name)
        _copy(photos[3:], root / "genuine" / name)
    _copy([people[n][0] for n in others[:IMPOSTOR_PEOPLE]], root / "impostors")
    _copy([people[n][0] for n in others[IMPOSTOR_PEOPLE:IMPOSTOR_PEOPLE + HELD_BACK_PEOPLE]], root / "strangers")
    home = root / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FACEGATE_HOME", str(home))
        out = _calibrate_cli("--gallery", root / "gallery", "--impostors", root / "impostors", "--target-far",
                             TARGET, "--report", root / "report", "--apply", engine=engine)
    # The same numbers as an object (every embedding is cached now: nothing is encoded again).
    report = calibrate_folders(root / "gallery", root / "impostors", TARGET, engine=engine,
                               impostor_cache=home / ".impostors.embeddings.npz")
    return {"root": root, "home": home, "out": out, "report": report}


def _held_back(site, engine, folder: str) -> dict[str, np.ndarray]:
    probes = Gallery(site["root"] / folder, engine, cache_path=site["root"] / f".{folder}.npz")
    probes.refresh()
    return gallery_embeddings(probes)


def test_recommended_threshold_holds_on_held_back_people(lfw_site, engine):
    report, out = lfw_site["report"], lfw_site["out"]
    assert report.status == CALIBRATED, out
    assert report.far_upper <= TARGET and report.threshold <= MAX_THRESHOLD
    assert report.scores.people == GALLERY_PEOPLE and len(report.scores.impostor) >= impostors_needed(TARGET)
    print(out)

    gallery = Gallery(lfw_site["root"] / "gallery", engine)
    gallery.refresh()
    strangers = np.concatenate(list(_held_back(lfw_site, engine, "strangers").values()))
    matches = gallery.match_many(strangers)
    accepted = sum(m.distance < report.threshold for m in matches)
    far = accepted / len(matches)
    low, high = interval(accepted, len(matches))
    point = sum(m.distance < report.point_threshold for m in matches) / len(matches)
    print(f"held back: {accepted} of {len(matches)} strangers accepted at {report.threshold:.3f} "
          f"({100 * far:.2f} %, 95 % interval {100 * low:.2f}-{100 * high:.2f} %; calibration said "
          f"{100 * report.far:.2f} %, at most {100 * report.far_upper:.2f} %); at the point estimate "
          f"{report.point_threshold:.3f}: {100 * point:.2f} %")
    # The promise: strangers are let in no more often than the target allows (with sampling slack) ...
    assert far <= 2 * TARGET
    # ... and what the calibration estimated is what new strangers see (the intervals overlap).
    assert low <= report.far_upper
    # Without the confidence margin, the observed-rate threshold lands near the target on new people too.
    assert point <= 3 * TARGET

    genuine = _held_back(lfw_site, engine, "genuine")
    right = total = 0
    for name, rows in genuine.items():
        for match in gallery.match_many(rows):
            total += 1
            right += match.name == name and match.distance < report.threshold
    rate = right / total
    print(f"held back: {right} of {total} photos of enrolled people accepted as themselves ({100 * rate:.1f} %; "
          f"leave-one-out estimate {100 * (1 - report.frr):.1f} %)")
    # LFW's photos of one person span years, poses and lighting: at a 1 % FAR with 2-3 enrolled photos dlib's
    # embedding accepts roughly two in three (benchmarks/openset.py). What matters is that the leave-one-out
    # estimate told the truth about it.
    assert total >= GALLERY_PEOPLE and rate >= 0.6
    assert rate >= 1 - report.frr_interval[1] - 0.05


def test_command_prints_the_numbers_writes_the_report_and_applies(lfw_site):
    out, report, root = lfw_site["out"], lfw_site["report"], lfw_site["root"]
    assert f"Recommended threshold: {report.threshold:.3f}" in out
    assert "Genuine comparisons:" in out and "Impostor comparisons:" in out
    assert "with 95 % confidence" in out and "false rejects at" in out
    settings = json.loads((lfw_site["home"] / "config.json").read_text())
    assert settings["threshold"] == pytest.approx(report.threshold) != Settings().threshold
    assert f"Applied: threshold {Settings().threshold:.3f} -> {report.threshold:.3f}" in out
    text = (root / "report" / "report.txt").read_text()
    assert "<- recommended" in text and "Photos left out:" in text
    for name in ("scores.png", "det.png"):
        data = (root / "report" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[0] > 300 and image.std() > 10
    assert all((root / "report" / n).stat().st_mode & 0o077 == 0 for n in ("report.txt", "scores.png", "det.png"))


def test_too_few_impostors_for_a_stricter_target(lfw_site, engine, monkeypatch):
    root, applied = lfw_site["root"], lfw_site["report"].threshold
    monkeypatch.setenv("FACEGATE_HOME", str(lfw_site["home"]))  # its impostor cache: nothing is encoded again
    out = _calibrate_cli("--gallery", root / "gallery", "--impostors", root / "impostors", "--target-far", "0.001",
                         "--report", root / "report-strict", engine=engine)
    assert "Too few impostor comparisons to confirm 0.1 %" in out and "need >= 2,995" in out
    assert "--impostors" in out and "Recommended threshold (not confirmed):" in out
    assert f"Not applied: the settings keep threshold {applied:.3f}" in out
    assert json.loads((lfw_site["home"] / "config.json").read_text())["threshold"] == applied
    assert (root / "report-strict" / "report.txt").is_file()


def test_one_person_is_too_small_and_nothing_is_applied(lfw, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("FACEGATE_HOME", str(tmp_path / "home"))
    person = lfw / "images" / "Serena_Williams"
    _copy(sorted(person.glob("*.jpg"))[:3], tmp_path / "gallery" / "Serena Williams")
    out = _calibrate_cli("--gallery", tmp_path / "gallery", "--report", tmp_path / "report", "--apply",
                         engine=engine)
    assert "too small to calibrate" in out
    assert f"Threshold kept at the safe default: {Settings().threshold:.3f}" in out
    assert "Nothing applied" in out and not (tmp_path / "home" / "config.json").exists()
    assert (tmp_path / "report" / "det.png").is_file()


def test_missing_folders_are_reported_plainly(tmp_path, engine):
    from facegate.errors import FaceGateError

    with pytest.raises(FaceGateError, match="gallery folder does not exist"):
        calibrate_folders(tmp_path / "nobody", engine=engine)
    (tmp_path / "gallery").mkdir()
    with pytest.raises(FaceGateError, match="impostor folder does not exist"):
        calibrate_folders(tmp_path / "gallery", tmp_path / "nobody", engine=engine)
