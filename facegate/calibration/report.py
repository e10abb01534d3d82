"""What a calibration found, for people and for other tools: the summary the command prints, report.txt,
curves.csv (the error rates at every threshold), and two plots drawn with matplotlib when it is installed
(`pip install "facegate[plots]"`).
"""

from __future__ import annotations

import csv
import io
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facegate.calibration.scores import (
    CALIBRATED,
    TOO_FEW_IMPOSTORS,
    TOO_SMALL,
    CalibrationReport,
    error_curve,
    false_accepts,
    genuine_accepts,
)
from facegate.calibration.stats import percent, upper_bound
from facegate.storage import atomic_write_bytes, ensure_private_dir

if TYPE_CHECKING:  # matplotlib is optional (the plots extra), imported when a plot is drawn
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

# Rows of the FAR/FRR table in report.txt (curves.csv has every 0.001).
TABLE_THRESHOLDS = tuple(round(0.30 + 0.025 * i, 3) for i in range(15))


def summary_lines(report: CalibrationReport) -> list[str]:
    """The key numbers in plain words (printed by the command, and the head of report.txt)."""
    s = report.scores
    conf = f"{100 * report.confidence:.0f} %"
    lines = [f"Gallery: {report.gallery or '(given embeddings)'}: {s.people} people, {s.photos} usable photos"
             + (f" ({len(report.problems)} photo(s) left out, listed in report.txt)" if report.problems else "")]
    lines.append(f"Genuine comparisons: {len(s.genuine):,} photos of {s.people_with_pairs} people with >= 2 photos, "
                 "each matched against everyone else's photos and the person's other photos (leave-one-out)")
    others = max(s.people - 1, 0)
    folder = f"{s.impostor_from_folder:,} faces from {report.impostor_folder} against all {s.people}" \
        if report.impostor_folder else "no --impostors folder"
    lines.append(f"Impostor comparisons: {len(s.impostor):,} impostor probes ({s.impostor_from_gallery:,} enrolled "
                 f"photos against the other {others} people; {folder}): {s.comparisons:,} face-to-person "
                 "distances")
    lines.append(f"Target false-accept rate: {percent(report.target_far)} per stranger's face, with {conf} "
                 f"confidence (needs >= {report.impostors_needed:,} impostor probes even with none accepted)")
    word = {CALIBRATED: "Recommended threshold", TOO_FEW_IMPOSTORS: "Recommended threshold (not confirmed)",
            TOO_SMALL: "Threshold kept at the safe default"}[report.status]
    lines.append(f"{word}: {report.threshold:.3f}")
    n, g = len(s.impostor), len(s.genuine)
    if n:
        lines.append(f"  false accepts at {report.threshold:.3f}: {report.false_accepts} of {n:,} "
                     f"({percent(report.far)}; at most {percent(report.far_upper)} with {conf} confidence)")
    if g:
        low, high = report.frr_interval
        lines.append(f"  false rejects at {report.threshold:.3f}: {g - report.genuine_accepted} of {g:,} "
                     f"({percent(report.frr)}; {conf} interval {percent(low)} - {percent(high)})")
    if report.point_threshold is not None and report.status != TOO_SMALL:
        lines.append(f"  for comparison, the observed FAR alone reaches {percent(report.target_far)} at "
                     f"{report.point_threshold:.3f} (no confidence margin: not a safe choice)")
    lines.extend(report.messages)
    return lines


def report_text(report: CalibrationReport) -> str:
    s = report.scores
    lines = ["FaceGate threshold calibration", ""] + summary_lines(report) + ["", "FAR / FRR by threshold "
             "(FAR: impostor probes accepted as anyone; FRR: genuine probes not accepted as their own person)",
             f"{'threshold':>10} {'false accepts':>16} {'FAR':>9} {'FAR upper':>10} {'false rejects':>15} {'FRR':>8}"]
    for t in sorted(set(TABLE_THRESHOLDS) | {report.threshold}):
        k = false_accepts(s, t)
        rejected = len(s.genuine) - genuine_accepts(s, t)
        n, g = max(len(s.impostor), 1), max(len(s.genuine), 1)
        mark = "  <- recommended" if t == report.threshold else ""
        lines.append(f"{t:>10.3f} {k:>7,}/{len(s.impostor):<8,} {percent(k / n):>9} "
                     f"{percent(upper_bound(k, len(s.impostor), report.confidence)):>10} "
                     f"{rejected:>6,}/{len(s.genuine):<8,} {percent(rejected / g):>8}{mark}")
    lines += ["", "Notes:",
              "- The FAR is per stranger's face against the whole gallery, so it grows with the number of people "
              "enrolled: calibrate again after enrolling many more people.",
              "- The confidence bound treats comparisons as independent; photos of one person are not quite, so "
              "read it as a best case. The kiosk's K-of-N vote and margin rule add safety not counted here.",
              "- Genuine scores are leave-one-out over the enrolled photos: a person's live face at the door may "
              "differ more from their photos than the photos differ from each other."]
    if report.problems:
        lines += ["", "Photos left out:"] + [f"- {p}" for p in report.problems]
    return "\n".join(lines) + "\n"



CURVE_COLUMNS = ("threshold", "false_accepts", "impostor_probes", "far", "genuine_accepted", "genuine_probes", "frr")


def curves_csv(report: CalibrationReport) -> str:
    """The error curve behind det.png as CSV: at each threshold (0 to 1.2 by 0.001) the impostor probes accepted
    and the genuine probes accepted as their own person, out of how many, and the rates they give."""
    s, curve = report.scores, error_curve(report.scores)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CURVE_COLUMNS)
    for threshold, accepted, far, genuine_accepted, frr in zip(curve.thresholds, curve.false_accepts, curve.far,
                                                               curve.genuine_accepted, curve.frr, strict=True):
        writer.writerow([f"{threshold:.3f}", int(accepted), len(s.impostor), f"{far:.6g}", int(genuine_accepted),
                         len(s.genuine), f"{frr:.6g}"])
    return text.getvalue()


GENUINE_COLOUR = "#28a03c"  # green
IMPOSTOR_COLOUR = "#d22828"  # red
CHOSEN_COLOUR = "#005ac8"  # blue
DEFAULT_COLOUR = "#787878"  # grey


def _figure() -> Figure:
    """An empty 900 x 540 figure drawn by Agg alone: pyplot keeps global state that threads would share, and a
    GUI backend would need a display."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 5.4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure) -> bytes:
    data = io.BytesIO()
    figure.savefig(data, format="png")
    return data.getvalue()


def _percent_ticks(axis) -> None:
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda value, _: percent(value)))
    axis.set_minor_formatter(NullFormatter())


def scores_plot(report: CalibrationReport) -> bytes:
    """Histograms (each normalised to its own total) of genuine and impostor distances, with the thresholds."""
    s = report.scores
    edges = list(np.round(np.arange(0.0, 1.2001, 0.02), 3))
    axes = _figure().add_subplot()
    for label, values, colour in (("impostor", s.impostor, IMPOSTOR_COLOUR), ("genuine", s.genuine, GENUINE_COLOUR)):
        values = values[np.isfinite(values)]
        # Each to its own total: thousands of impostor probes would flatten a few dozen genuine ones. Distances
        # past the axis are counted in the last bar.
        axes.hist(np.clip(values, 0, 1.19), edges, weights=np.full(len(values), 1 / max(len(values), 1)),
                  color=colour, alpha=0.45, label=label)
    axes.axvline(report.default_threshold, color=DEFAULT_COLOUR, linestyle="--", linewidth=2,
                 label=f"default {report.default_threshold:.2f}")
    axes.axvline(report.threshold, color=CHOSEN_COLOUR, linewidth=2, label=f"recommended {report.threshold:.3f}")
    axes.set(xlim=(0.0, 1.2), xlabel="distance", ylabel="share of probes",
             title=f"genuine ({len(s.genuine):,}) vs impostor ({len(s.impostor):,}) distances")
    axes.set_ylim(bottom=0)
    _percent_ticks(axes.yaxis)
    axes.grid(color="#e1e1e1")
    axes.legend(loc="upper right")
    return _png(axes.figure)


def det_plot(report: CalibrationReport) -> bytes:
    """FRR against FAR (log scale) across thresholds, with the target and the recommended operating point."""
    s = report.scores
    curve = error_curve(s)
    n = max(len(s.impostor), 1)
    # A log axis has no 0: a FAR of 0 is drawn at its left edge, below both one accepted probe and the target.
    floor = 10.0 ** math.floor(math.log10(min(1.0 / n, report.target_far) / 2))
    # Zoom the FRR axis on the part that matters: from the best FRR reachable with no false accept, upwards.
    no_accept = curve.frr[curve.far == 0]
    worst = float(no_accept.min()) if len(no_accept) else 1.0
    top = min(1.0, math.ceil(10 * max(0.2, 1.5 * report.frr, 1.2 * worst)) / 10)
    axes = _figure().add_subplot()
    axes.plot(np.maximum(curve.far, floor), curve.frr, color="black", linewidth=2)
    axes.axvline(report.target_far, color=IMPOSTOR_COLOUR, linestyle="--", linewidth=2,
                 label=f"target {percent(report.target_far)}")
    axes.plot([max(report.far, floor)], [report.frr], "o", markersize=12, markerfacecolor="none",
              markeredgewidth=2, color=CHOSEN_COLOUR,
              label=f"threshold {report.threshold:.3f}: FAR {percent(report.far)} (<= {percent(report.far_upper)}), "
                    f"FRR {percent(report.frr)}")
    axes.set_xscale("log")
    axes.set(xlim=(floor, 1.0), ylim=(0.0, top), xlabel="false-accept rate (log scale; 0 drawn at the left edge)",
             ylabel="false-reject rate", title="DET: each point is one threshold")
    _percent_ticks(axes.xaxis)
    _percent_ticks(axes.yaxis)
    axes.grid(color="#e1e1e1")
    axes.legend(loc="upper right")
    return _png(axes.figure)


def write_report(report: CalibrationReport, folder: str | Path) -> dict[str, Path]:
    """Write report.txt, curves.csv, scores.png and det.png (owner-only) into `folder`; returns name -> path of
    those written. Without matplotlib the plots are left out, with a warning that says how to get them."""
    folder = ensure_private_dir(Path(folder).expanduser())
    files = {"report.txt": report_text(report).encode("utf-8"), "curves.csv": curves_csv(report).encode("utf-8")}
    try:
        files.update({"scores.png": scores_plot(report), "det.png": det_plot(report)})
    except ImportError as exc:  # matplotlib is an optional extra: the numbers do not need it
        log.warning("scores.png and det.png not drawn (%s): the plots need matplotlib, "
                    'pip install "facegate[plots]"', exc)
    written = {}
    for name, data in files.items():
        atomic_write_bytes(folder / name, data)
        written[name] = folder / name
    return written
