"""The benchmark scripts' shared prologue (facegate_dev/bench.py): every script with a `main` takes --json, its
--help costs neither TensorFlow nor data, and the report's JSON is one valid object."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from facegate_dev.bench import BENCHMARKS, Report, bench_parser

ROOT = BENCHMARKS.parent

# Runs a script's --help as `python benchmarks/x.py --help` would, then says which heavy modules it imported.
HELP_PROBE = """
import runpy, sys
sys.argv = [sys.argv[1], "--help"]
sys.path.insert(0, str(__import__("pathlib").Path(sys.argv[0]).parent))
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit:
    pass
print("HEAVY:", sorted(m for m in ("tensorflow", "dlib", "face_recognition", "PySide6") if m in sys.modules))
"""


def scripts_with_main() -> list[Path]:
    return sorted(path for path in BENCHMARKS.glob("*.py")
                  if any(isinstance(node, ast.FunctionDef) and node.name == "main"
                         for node in ast.parse(path.read_text(encoding="utf-8")).body))


def test_the_benchmarks_are_found():
    names = {path.stem for path in scripts_with_main()}
    assert {"pipeline", "lfw", "openset", "window_soak", "durable_log"} <= names
    assert "process_stats" not in names  # a helper module, no script


@pytest.mark.parametrize("script", scripts_with_main(), ids=lambda path: path.stem)
def test_every_benchmark_takes_json_and_its_help_loads_nothing_heavy(script):
    done = subprocess.run([sys.executable, "-c", HELP_PROBE, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "--json" in done.stdout, f"{script.name} has no --json:\n{done.stdout}"
    assert "HEAVY: []" in done.stdout, f"{script.name} --help imported {done.stdout.splitlines()[-1]}"


def test_the_json_report_is_one_object_with_the_figures(capsys):
    import numpy as np

    args = bench_parser("A tiny benchmark.\n\nMore text.").parse_args(["--json"])
    report = Report("tiny", args.json)
    report.say("a line for people", median_ms=np.float64(1.5), count=np.int64(3), missing=float("nan"))
    report.row("table", "  row 1", name="a", value=1)
    report.row("table", "  row 2", name="b", value=np.float32(0.25))
    report.check(True, "it worked")
    report.finish()
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # nothing but the object
    assert json.loads(out) == {"benchmark": "tiny", "median_ms": 1.5, "count": 3, "missing": None,
                               "table": [{"name": "a", "value": 1}, {"name": "b", "value": 0.25}],
                               "checks": [{"ok": True, "text": "it worked"}], "passed": True}


def test_without_json_the_text_is_printed_as_it_is_said(capsys):
    report = Report("tiny")
    report.say("first", figure=1)
    assert capsys.readouterr().out == "first\n"
    report.row("table", "  a row", value=2)
    report.check(False, "it failed")
    report.finish()
    assert capsys.readouterr().out == "  a row\n  FAIL  it failed\n"
    assert not report.passed


def test_a_benchmark_without_its_data_says_why_it_skipped(tmp_path):
    done = subprocess.run([sys.executable, str(BENCHMARKS / "lfw.py"), "--limit", "1", "--json"], capture_output=True,
                          text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "FACEGATE_DATA": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["benchmark"] == "lfw"
    assert report["skipped"].startswith("LFW is not on this machine") and str(tmp_path / "lfw") in report["skipped"]


def test_a_figure_reported_twice_is_a_mistake():
    report = Report("tiny", as_json=True)
    report.say("x", value=1)
    with pytest.raises(KeyError):
        report.add(value=2)
