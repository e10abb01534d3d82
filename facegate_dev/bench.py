"""What every script under benchmarks/ shares: its environment, its command line, where its data is, whether the
peer it is compared with is installed, and how it reports.

A script starts with

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: facegate_dev, facegate
    from facegate_dev.bench import Report, ...  # noqa: E402

then `parser = bench_parser(__doc__)` (which always has --json), `report = Report("name", args.json)`, and reports
as it goes: `report.say(text, figure=value)` is one line of the human-readable text and the figures it shows,
`report.row(table, text, column=value)` one line that is a row of a table, `report.check(ok, text)` a verdict.
Without --json each line is printed when it is said (a soak prints its samples as they come); with --json nothing
is printed until `report.finish()`, which prints ONE JSON object: {"benchmark": name, figure: number, ...,
table: [{column: value}, ...], "checks": [{"ok", "text"}], "passed"}.

`--help` must stay cheap (tests/test_benchmarks.py runs it on every script): TensorFlow, the models and the data
are imported or read inside functions, never at the top of a script.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import importlib.util
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from facegate_dev.datasets import PROJECT_ROOT, clips_dir, lfw_dir, shared_data_dir

# Before any script imports TensorFlow: its start-up chatter on stderr is not part of a benchmark's report.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BENCHMARKS = PROJECT_ROOT / "benchmarks"


def bench_parser(doc: str | None, *, whole_doc: bool = False, **options) -> argparse.ArgumentParser:
    """A script's argument parser, with --json. The description is the docstring's first line, or all of it
    (`whole_doc`, kept as written)."""
    doc = doc or ""
    if whole_doc:
        options.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
    parser = argparse.ArgumentParser(description=doc if whole_doc else doc.strip().split("\n")[0], **options)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object with the figures at the end, instead of the text")
    return parser


# The peer most benchmarks compare with: face_recognition imports its models package on import.
FACE_RECOGNITION = ("face_recognition", "face_recognition_models")


def peer_available(modules: tuple[str, ...] = FACE_RECOGNITION) -> bool:
    """Whether a peer library is installed (face_recognition is, for benchmarks only: see README "Benchmarks").
    Asked without importing it: face_recognition loads dlib's models on import."""
    return all(importlib.util.find_spec(module) is not None for module in modules)


def plain(value: Any) -> Any:
    """`value` as JSON has it: NumPy scalars and arrays as numbers and lists, NaN and infinities as null (JSON has
    neither), paths as text, enums as their values, dataclasses as objects."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # NumPy scalars and arrays, without importing NumPy here
        return plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Report:
    """A benchmark's output: the text it prints (as it goes), or with `as_json` one JSON object at the end."""

    def __init__(self, name: str, as_json: bool = False):
        self.name = name
        self.as_json = as_json
        self.figures: dict[str, Any] = {"benchmark": name}
        self.checks: list[tuple[bool, str]] = []

    def _text(self, text: str) -> None:
        if not self.as_json:
            print(text, flush=True)

    def _add(self, figures: dict[str, Any]) -> None:
        for key, value in figures.items():
            if key in self.figures:
                raise KeyError(f"{self.name}: the figure {key!r} is reported twice")
            self.figures[key] = value

    def say(self, text: str = "", **figures: Any) -> None:
        """One line (or more) of the text, and the figures it shows (JSON only)."""
        self._text(text)
        self._add(figures)

    def add(self, **figures: Any) -> None:
        """Figures for the JSON object that the text shows in a form of its own (or not at all)."""
        self._add(figures)

    def row(self, table: str, text: str | None, **columns: Any) -> None:
        """A line of the text that is one row of `table` (a list of objects in the JSON); `text` None: the row is
        in the JSON only."""
        if text is not None:
            self._text(text)
        rows = self.figures.setdefault(table, [])
        if not isinstance(rows, list):
            raise KeyError(f"{self.name}: {table!r} is a figure, not a table")
        rows.append(columns)

    def check(self, ok: bool, text: str) -> None:
        """A verdict line: '  PASS  text' or '  FAIL  text'; in the JSON under "checks"."""
        self.checks.append((bool(ok), text))
        self._text(f"  {'PASS' if ok else 'FAIL'}  {text}")

    @property
    def passed(self) -> bool:
        return all(ok for ok, _ in self.checks)

    def as_object(self) -> dict[str, Any]:
        result = dict(self.figures)
        if self.checks:
            result["checks"] = [{"ok": ok, "text": text} for ok, text in self.checks]
            result["passed"] = self.passed
        return plain(result)

    def finish(self) -> None:
        """The end of the report: with --json, the one JSON object (the text was printed as it was said)."""
        if self.as_json:
            print(json.dumps(self.as_object(), allow_nan=False), flush=True)

    def skip(self, why: str) -> NoReturn:
        """This machine cannot run the benchmark (no data, no peer): say why and exit 0."""
        if self.as_json:
            print(json.dumps({"benchmark": self.name, "skipped": why}), flush=True)
        else:
            print(f"{self.name}: skipped: {why}", flush=True)
        sys.exit(0)


def where_data_is_looked_for(subfolder: str) -> str:
    folder = shared_data_dir() or Path(os.environ.get("FACEGATE_DATA") or PROJECT_ROOT.parent / "shared" / "data")
    return f"looked in {folder / subfolder}; FACEGATE_DATA names the data folder, ../shared/data by default"


def need_clips(report: Report, *files: str) -> Path:
    """The test clips folder (../shared/data/clips), holding `files`; or the report skips."""
    clips = clips_dir()
    if clips is None or not all((clips / name).is_file() for name in files):
        report.skip(f"the test clips are not on this machine ({where_data_is_looked_for('clips')})")
    return clips


def need_lfw(report: Report) -> Path:
    """The LFW folder (../shared/data/lfw, with pairs.txt); or the report skips."""
    root = lfw_dir()
    if root is None:
        report.skip(f"LFW is not on this machine ({where_data_is_looked_for('lfw')})")
    return root


def need_peer(report: Report, modules: tuple[str, ...] = FACE_RECOGNITION) -> None:
    """Skip unless the peer library is installed."""
    if not peer_available(modules):
        report.skip(f"the peer is not installed (the modules {', '.join(modules)}: see README.md, Benchmarks)")
