"""A liveness trial at a site (issue 28 item 7): each attempt is kept with its outcome, cues and time to grant, no
face, and `facegate report liveness` prints BPCER and the median time to grant per person and overall."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

from facegate.access_log import AccessLog, AttemptRow
from facegate.liveness import Action, draw_challenge
from facegate.reports import format_liveness_report, liveness_report

ROOT = Path(__file__).resolve().parent.parent
# What Lin-Manuel Miranda's recorded movements answer, in order (benchmarks/liveness.py: BONA_FIDE_ANSWER).
HIS_ANSWER = (Action.TURN_RIGHT, Action.OPEN_MOUTH)


def _row(person: str, outcome: str, to_outcome: float, asked: bool = False) -> AttemptRow:
    return AttemptRow(1.0e9, person, outcome, to_outcome, to_outcome / 2, asked, {"texture": 0.9})


def test_the_report_counts_refusals_of_genuine_people_and_the_median_time_to_grant():
    rows = [_row("Ada", "granted", 0.8), _row("Ada", "granted", 1.2), _row("Ada", "refused", 4.0, asked=True),
            _row("Ada", "walked away", 2.0), _row("Bo", "granted", 3.0, asked=True)]
    ada, bo, everyone = liveness_report(rows)
    assert (ada.who, ada.attempts, ada.granted, ada.refused, ada.walked_away, ada.asked) == ("Ada", 3, 2, 1, 1, 1)
    assert ada.bpcer == 1 / 3 and ada.median_time_to_grant_s == 1.0 and ada.median_checking_s == 0.5
    assert bo.bpcer == 0 and bo.median_time_to_grant_s == 3.0
    assert everyone.attempts == 4 and everyone.bpcer == 0.25 and everyone.median_time_to_grant_s == 1.2
    table = format_liveness_report([ada, bo, everyone])
    assert "33.3 %" in table and "25.0 %" in table and "1.2 s" in table


def test_attempts_are_erased_with_the_person(tmp_path):
    with AccessLog(tmp_path / "log") as access_log:
        assert access_log.record_attempt(_row("Ada", "granted", 1.0))
        assert access_log.record_attempt(_row("Bo", "refused", 2.0))
        access_log.erase_person("Ada")
        assert [r.person for r in access_log.attempts()] == ["Bo"]


def _seed_for(sequence: tuple[Action, ...]) -> int:
    return next(s for s in range(100_000) if tuple(draw_challenge(random.Random(s), len(sequence))) == sequence)


def test_a_trial_on_the_real_clip_is_reported_by_the_cli(tmp_path, clips):
    """The real kiosk (`run --headless`) on the clip with a trial on: Lin-Manuel Miranda answers the challenge his
    recording answers, the attempt is kept without a face, and `facegate report liveness` reports it."""
    gallery = tmp_path / "gallery" / "Lin-Manuel Miranda"
    gallery.mkdir(parents=True)
    (gallery / "photo.png").write_bytes((clips / "lin-manuel-miranda.png").read_bytes())
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.json").write_text(json.dumps({"liveness_trial": True, "liveness": "challenge",
                                                  "liveness_steps": 2, "speech": False}))
    env = {**os.environ, "FACEGATE_HOME": str(home), "PYTHONPATH": str(ROOT)}
    log_dir = tmp_path / "log"
    run = subprocess.run(
        [sys.executable, "-m", "facegate", "run", "--headless", "--fast", "--no-learning", "--gallery",
         str(tmp_path / "gallery"), "--log-dir", str(log_dir), "--source", str(clips / "short_hamilton_clip.mp4"),
         "--seed", str(_seed_for(HIS_ANSWER))], capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = sqlite3.connect(log_dir / "access.sqlite3").execute(
        "SELECT person, outcome, seconds_to_outcome, seconds_checking, asked, cues FROM liveness_attempts").fetchall()
    granted = [r for r in rows if r[1] == "granted"]
    assert granted and granted[0][0] == "Lin-Manuel Miranda", rows
    _, _, to_grant, checking, asked, cues = granted[0]
    assert 0 < checking < to_grant < 9 and asked == 1
    assert json.loads(cues)["challenge"] == [a.value for a in HIS_ANSWER]
    assert "snapshot" not in json.dumps(rows)

    report = subprocess.run([sys.executable, "-m", "facegate", "report", "liveness", "--log-dir", str(log_dir)],
                            capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert report.returncode == 0, report.stderr
    line = next(line for line in report.stdout.splitlines() if line.startswith("Lin-Manuel Miranda"))
    assert f"{to_grant:.1f} s" in line, report.stdout
    as_json = subprocess.run([sys.executable, "-m", "facegate", "report", "liveness", "--log-dir", str(log_dir),
                              "--json"], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    everyone = [json.loads(line) for line in as_json.stdout.splitlines()][-1]
    assert everyone["who"] == "everyone" and everyone["granted"] >= 1
    assert everyone["bpcer"] == everyone["refused"] / everyone["attempts"]


def test_report_without_a_log_or_a_trial_says_what_to_do(tmp_path):
    env = {**os.environ, "FACEGATE_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    missing = subprocess.run([sys.executable, "-m", "facegate", "report", "liveness", "--log-dir",
                              str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=120, env=env)
    assert missing.returncode == 2 and "no access log" in missing.stderr
    AccessLog(tmp_path / "log").close()
    empty = subprocess.run([sys.executable, "-m", "facegate", "report", "liveness", "--log-dir",
                            str(tmp_path / "log")], capture_output=True, text=True, timeout=120, env=env)
    assert empty.returncode == 1 and "liveness_trial" in empty.stderr
