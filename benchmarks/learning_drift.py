"""Learning from visits must not move strangers closer (issue 30, item 7): pixel morphs toward a stranger, offered
as visits to the real TemplateLearner, and the strangers' distances to the person before and after.

    PYTHONPATH=. .venv/bin/python benchmarks/learning_drift.py [--people 6] [--strangers 120] [--steps 20]
                                                               [--thresholds 0.48,0.52] [--json]

For each threshold, a gallery made as the kiosk makes it (kiosk.open_gallery with Settings(threshold=...)) holds
--people LFW people, each enrolled from their first photo (a badge photo). For each person in turn:
1. the closest of --strangers other LFW people (first photo each) that the person's enrolled photo refuses
   (distance >= the threshold) is the target;
2. --steps pixel morphs (facegate_dev/morphs.py: the stranger's photo aligned onto the person's by five landmarks,
   alpha-blended, alpha 1/steps .. 1) are offered one by one as liveness-passed grants to the real TemplateLearner
   (LearningSettings.from_settings, as the kiosk assembles it), two hours apart, exactly as the kiosk's
   LearningListener offers a grant's snapshot; the learner's own rules decide what is learned (at most 3 kept);
3. after every visit, every stranger's distance to the person (Gallery.distances_to_people, what the kiosk
   matches on) is measured: the smallest that any stranger refused before the learning reaches, and whether any
   came under the threshold; the person's second LFW photo (when there is one) shows what learning does for them.
Then what was learned of the person is forgotten (the next person starts from their enrolled photo alone).

The figure: the smallest distance any refused stranger reaches after learning, against the threshold (it must
stay at or above it). Takes 2-4 minutes on 2 cores with the defaults (6 people x 20 visits x 2 thresholds).
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: facegate_dev, facegate

import numpy as np  # noqa: E402

from facegate_dev.bench import Report, bench_parser, need_lfw  # noqa: E402

SEED = 30  # which LFW people are enrolled and which are the strangers


def lfw_people(root: Path, people: int, strangers: int) -> tuple[list[tuple[str, list[Path]]], list[Path]]:
    """(enrolled people with their photos, one photo of each stranger), drawn with SEED from the LFW folders:
    enrolled people have at least two photos, strangers are other people."""
    folders = sorted(p for p in (root / "images").iterdir() if p.is_dir())
    rng = random.Random(SEED)
    rng.shuffle(folders)
    with_two = [f for f in folders if len(list(f.glob("*.jpg"))) >= 2][:people]
    others = [f for f in folders if f not in with_two][:strangers]
    return ([(f.name, sorted(f.glob("*.jpg"))) for f in with_two], [sorted(f.glob("*.jpg"))[0] for f in others])


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--people", type=int, default=6)
    parser.add_argument("--strangers", type=int, default=120)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--thresholds", default="0.48,0.52")
    args = parser.parse_args()
    report = Report("learning_drift", args.json)
    root = need_lfw(report)

    from facegate.config import Settings
    from facegate.imageio import load_image
    from facegate.kiosk import open_gallery
    from facegate.learning import LearningSettings
    from facegate.vision.engine import FaceEngine
    from facegate_dev.morphs import KioskVisits, morphs_toward, visit_snapshot

    engine = FaceEngine()
    engine.load_models()
    people, stranger_photos = lfw_people(root, args.people, args.strangers)
    images = {p: load_image(p) for p in stranger_photos}
    probe_rows = []
    usable = []
    for path in stranger_photos:
        faces = engine.detect(images[path])
        if faces:
            probe_rows.append(engine.embed(images[path], [max(faces, key=lambda f: f.width)])[0])
            usable.append(path)
    strangers = np.array(probe_rows, np.float32)
    own_later = {}
    for name, photos in people:
        later = load_image(photos[1])
        faces = engine.detect(later)
        if faces:
            own_later[name] = engine.embed(later, [max(faces, key=lambda f: f.width)])[0]
    alphas = [(i + 1) / args.steps for i in range(args.steps)]
    report.say(f"{len(people)} LFW people enrolled (one photo each), {len(usable)} strangers, {args.steps} morph "
               f"visits per person")
    work = Path(tempfile.mkdtemp(prefix="learning-drift-"))
    worst = {}
    try:
        for threshold in (float(t) for t in args.thresholds.split(",")):
            settings = Settings(threshold=threshold)
            folder = work / f"gallery-{threshold}"
            for name, photos in people:
                (folder / name).mkdir(parents=True)
                shutil.copy(photos[0], folder / name / photos[0].name)
            gallery = open_gallery(settings, engine, folder)
            gallery.refresh()
            learning = LearningSettings.from_settings(settings)
            report.say(f"\nthreshold {threshold:.2f}: learner limits max_distance {learning.max_distance:.2f}, "
                       f"min_margin {learning.min_margin:.2f}, max_distance_to_enrolled "
                       f"{learning.max_distance_to_enrolled:.2f}")
            smallest_after = float("inf")
            brought_under = 0
            for name, photos in people:
                if name not in gallery.people:
                    report.say(f"  {name}: enrolled photo not usable; skipped")
                    continue

                def to_person(probes: np.ndarray, who: str = name, gallery=gallery) -> np.ndarray:
                    names, distances = gallery.distances_to_people(probes)
                    return distances[:, names.index(who)]

                before = to_person(strangers)
                refused = before >= threshold
                target = int(np.flatnonzero(refused)[np.argmin(before[refused])])
                own_before = float(to_person(own_later[name][None])[0]) if name in own_later else None
                closest = {"target": float(before[target]), "any": float(before[refused].min())}
                under = set()
                visits = KioskVisits(gallery, learning)
                base = load_image(photos[0])
                learned = 0
                try:
                    for image in morphs_toward(engine, base, images[usable[target]], alphas):
                        outcome = visits.visit(name, visit_snapshot(engine, image))
                        if outcome is None or not outcome.learned:
                            continue
                        learned += 1
                        now = to_person(strangers)
                        closest["target"] = min(closest["target"], float(now[target]))
                        closest["any"] = min(closest["any"], float(now[refused].min()))
                        under |= {int(i) for i in np.flatnonzero(refused & (now < threshold))}
                finally:
                    visits.stop()
                own_after = float(to_person(own_later[name][None])[0]) if name in own_later else None
                smallest_after = min(smallest_after, closest["any"])
                brought_under += len(under)
                own = "" if own_before is None else f"; own 2nd photo {own_before:.3f} -> {own_after:.3f}"
                report.row("people", f"  {name}: closest refused stranger {usable[target].parent.name} "
                                     f"{before[target]:.3f} -> {closest['target']:.3f} at least, {learned} of "
                                     f"{len(alphas)} morphs learned; any refused stranger: "
                                     f"{before[refused].min():.3f} -> {closest['any']:.3f}, {len(under)} brought "
                                     f"under {threshold:.2f}{own}",
                           threshold=threshold, person=name, stranger=usable[target].parent.name,
                           before=float(before[target]), after=closest["target"], learned=learned,
                           any_before=float(before[refused].min()), any_after=closest["any"],
                           brought_under=len(under), own_before=own_before, own_after=own_after)
                gallery.forget_learned(name)
            worst[threshold] = smallest_after
            report.say(f"  smallest distance any refused stranger reached after learning: {smallest_after:.3f} "
                       f"(threshold {threshold:.2f}); strangers brought under it: {brought_under}",
                       **{f"smallest_after_{threshold:.2f}": smallest_after,
                          f"brought_under_{threshold:.2f}": brought_under})
            report.check(smallest_after >= threshold,
                         f"no refused stranger under {threshold:.2f} after learning (smallest {smallest_after:.3f})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report.finish()
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
