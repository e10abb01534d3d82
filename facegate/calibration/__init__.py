"""Per-site threshold calibration: which distance threshold keeps strangers out, for *this* gallery.

The question every deployment asks ("what threshold so that strangers are not let in?") has no universal
answer: the false-accept rate of a stranger's face grows with the number of people enrolled, and depends on
who they are and how they were photographed. So it is measured here, from the site's own photos:

- genuine scores: each enrolled photo of a person with at least 2 usable photos, matched the way the kiosk
  would match it against everyone else's photos and the person's OTHER photos (leave-one-out). It counts as
  accepted at threshold t when its own person is the best match and that distance is under t;
- impostor scores: each enrolled photo's distance to the closest OTHER enrolled person (would this person be
  let in as someone else?), plus each face from an optional folder of people who will never be enrolled,
  against every enrolled person. One impostor probe = one stranger walking up to the door.

The recommended threshold is the largest one whose false-accept rate is at most the target with 95 %
confidence (one-sided Clopper-Pearson bound on the observed false accepts). With few impostor probes even zero
observed false accepts cannot show a small rate (the "rule of three": about 3/target probes are needed); then
the report says so and keeps the safe default. It never recommends above 0.6, the fused distance's 1 %
false-match point on LFW (where dlib's own "same person" rule sits).

stats.py holds the confidence bounds, scores.py the scores, rates, recommendation and the reading of photo
folders, report.py the summary, report.txt, curves.csv and the plots. The `calibrate` command is in cli.py.
"""

from facegate.calibration.report import (
                                         CURVE_COLUMNS,
                                         TABLE_THRESHOLDS,
                                         curves_csv,
                                         det_plot,
                                         report_text,
                                         scores_plot,
                                         summary_lines,
                                         write_report,
)
from facegate.calibration.scores import (
                                         CALIBRATED,
                                         DEFAULT_TARGET_FAR,
                                         HIGH_FRR,
                                         MAX_THRESHOLD,
                                         MIN_PEOPLE_WITH_PAIRS,
                                         THRESHOLD_STEP,
                                         TOO_FEW_IMPOSTORS,
                                         TOO_SMALL,
                                         CalibrationReport,
                                         ErrorCurve,
                                         Scores,
                                         calibrate_folders,
                                         compute_scores,
                                         error_curve,
                                         false_accepts,
                                         gallery_embeddings,
                                         genuine_accepts,
                                         recommend,
)
from facegate.calibration.stats import (
                                         CONFIDENCE,
                                         _binomial_cdf,  # noqa: F401 - where the tests have always checked the sum
                                         impostors_needed,
                                         interval,
                                         largest_supported_count,
                                         lower_bound,
                                         percent,
                                         upper_bound,
)

__all__ = [
    "CALIBRATED", "CONFIDENCE", "CURVE_COLUMNS", "DEFAULT_TARGET_FAR", "HIGH_FRR", "MAX_THRESHOLD",
    "MIN_PEOPLE_WITH_PAIRS", "TABLE_THRESHOLDS", "THRESHOLD_STEP", "TOO_FEW_IMPOSTORS", "TOO_SMALL",
    "CalibrationReport", "ErrorCurve", "Scores", "calibrate_folders", "compute_scores", "curves_csv", "det_plot",
    "error_curve", "false_accepts", "gallery_embeddings", "genuine_accepts", "impostors_needed", "interval",
    "largest_supported_count", "lower_bound", "percent", "recommend", "report_text",
    "scores_plot", "summary_lines", "upper_bound", "write_report",
]
