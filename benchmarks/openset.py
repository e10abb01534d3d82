"""Open-set identification on LFW: the kiosk's real task, FaceGate's pipeline against face_recognition's.

A door kiosk does not verify pairs; it asks "is this face one of the enrolled people, and who?". So:

  gallery         one photo each of the people with at least two photos (1,559 people in the 7,701 images of
                  pairs.txt); further rows enroll 3 or 5 photos of the people with at least 4 or 6 photos and
                  compare with 1 photo of the SAME people, against the SAME probes
  genuine probes  their photos not enrolled
  impostor probes the photos of the people with only one photo (never enrolled: 2,722 photos)

A probe is accepted when its best enrolled person (each person's distance = their closest enrolled photo) is
under the threshold, and, in the "+ margin" rows, at least 0.05 closer than the second-best person (the
kiosk's rule, facegate/policy.py). Reported:

  DIR@FAR     detection-and-identification rate (genuine probe accepted as the right person) at the threshold
              where the false-accept rate (impostor probe accepted as anyone) reaches 1 % or 0.1 %. That
              threshold is set on the same impostor probes (a point on the curve, as open-set benchmarks
              report it); the second table sets it on half the people and measures on the other half.
  FAR@0.6     face_recognition's rule: best match under 0.6 (compare_faces' default tolerance)
  wrong       genuine probes accepted as someone else
  rank-1 wrong  genuine probes whose best match is the wrong person, whatever the threshold

A photo with no face found counts against the system: a genuine probe is missed, an impostor probe rejected
(the counts are printed), an enrolled photo with no face leaves its person with fewer photos (or none).

Systems and embeddings are those of benchmarks/lfw.py (its per-image cache is reused with --cache; the face
nearest the image centre, the same rule for both):
  facegate          the app's engine: YuNet, dlib 5-point landmarks, dlib's ResNet (our TF port, averaged with
                    its mirror image's) and SFace, fused (facegate/vision/engine.py)
  dlib, sface       each embedder of the same pass alone (dlib: the app's engine until the fusion)
  face_recognition  face_recognition 1.3.0: HOG detector with 1 upsample, dlib's descriptor (lfw.py's peer);
                    slow (its own pass), so not run unless asked. Table D applies its rule to our dlib row.

D. Sites: what a door with N enrolled people (k photos each) does. N people are drawn from those with at least
k+1 photos; genuine probes are their other photos, strangers are the photos of everyone not drawn (at most
PROBES_PER_PERSON of each person, so that no one person dominates); DRAWS draws, counts pooled, 95 %
Clopper-Pearson intervals. Each rule's threshold is set on half the people (the largest threshold whose FAR
at 100 enrolled x 3 photos is at most 0.1 % with 95 % confidence, as `facegate calibrate` sets it) and measured
on the other half; the
1,000-person rows need more people than a half holds and use all of LFW (their threshold saw half of it);
LFW has only 439 people with 4 photos or more, so there is no 1,000 x 3 row.

E. Lever 3, cohort normalisation: the best distance minus a weight times the mean distance to the probe's
nearest other enrolled people, or to a bank of anonymous faces; GAR at equal FAR against the plain distance.

F. Per presentation and lever 2: 5 frames of one person through the app's AccessPolicy (votes), with and
without a track template (the mean embedding of the frames) that must agree.

G. Lever 4, learning from visits (facegate/learning.py): sites of 100 people x 3 photos (people with at least 5);
first a stream of visits in random order (half of each enrolled person's other photos, and one photo of every
stranger), each learned or not by the app's rule as the templates stand at that moment; then the enrolled
people's remaining photos and the strangers' other photos are matched at the app's default threshold and margin,
a learned photo counting only where the enrolled photos are under the threshold (as the gallery matches).
Deterministic: the photos enrolled are chosen with a seeded generator (--seed).

    .venv/bin/python benchmarks/openset.py [--cache DIR] [--limit-people N] [--seed S]
                                           [--systems facegate,dlib,sface,face_recognition] [--json]
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: facegate_dev, facegate

# benchmarks/ is not a package: reuse lfw.py's two systems and its embedding cache rather than copy them (this
# script's folder is on sys.path as it runs).
from lfw import FacegateSystem, PeerSystem, run_system  # noqa: E402

from facegate.calibration import (  # noqa: E402
    interval,
    largest_supported_count,
    percent,
)
from facegate.config import Settings  # noqa: E402
from facegate.matching import learned_only_under, per_person_distances  # noqa: E402
from facegate.policy import PolicySettings  # noqa: E402
from facegate_dev.bench import Report, bench_parser, need_lfw  # noqa: E402

TARGETS = (0.01, 0.001)
PEER_RULE = 0.6  # face_recognition.compare_faces(tolerance=0.6)
FACEGATE_DEFAULT = Settings().threshold
DLIB_OLD_DEFAULT = 0.5  # the app's threshold when it matched on dlib's embeddings alone
MARGIN = PolicySettings().min_margin


@dataclass(frozen=True)
class Protocol:
    """One enrollment setting: which images are enrolled for whom, and which are probes."""

    label: str
    gallery: dict[str, list[int]]  # person -> indices of their enrolled images
    genuine: list[tuple[int, str]]  # (image index, the person it shows)
    impostor: list[int]


@dataclass(frozen=True)
class Outcomes:
    """Per probe: best and second-best enrolled person's distance, and whether the best is the right one."""

    genuine_d1: np.ndarray
    genuine_d2: np.ndarray
    genuine_right: np.ndarray  # bool: best person is the probe's own (False when not enrolled or no face)
    impostor_d1: np.ndarray
    impostor_d2: np.ndarray
    people: int  # enrolled people with at least one usable photo
    genuine_no_face: int
    impostor_no_face: int
    gallery_no_face: int


# ----------------------------------------------------------------------------------------------- protocols

def shuffled_people(images_root: Path, rng: np.random.Generator, limit: int | None) -> dict[str, list[str]]:
    """Person -> their image names (relative to images_root) in a seeded random order."""
    people = {d.name: sorted(f"{d.name}/{f.name}" for f in d.glob("*.jpg"))
              for d in sorted(images_root.iterdir()) if d.is_dir()}
    names = sorted(people)
    if limit is not None and limit < len(names):
        names = sorted(rng.choice(names, limit, replace=False))
    return {name: list(rng.permutation(people[name])) for name in names}


def build_protocols(people: dict[str, list[str]], index: dict[str, int]) -> list[Protocol]:
    singles = [index[files[0]] for files in people.values() if len(files) == 1]
    protocols = [_protocol("1 photo, people with >= 2", people, index, need=2, enrolled=1, singles=singles)]
    for enrolled in (3, 5):
        for used in (1, enrolled):
            # Same people, same probes (photos enrolled+1 onward) for 1 photo and for `enrolled` photos.
            protocols.append(_protocol(f"{used} photo{'s' if used > 1 else ''}, people with >= {enrolled + 1}",
                                       people, index, need=enrolled + 1, enrolled=used, singles=singles,
                                       probes_from=enrolled))
    return protocols


def _protocol(label, people, index, need, enrolled, singles, probes_from=None) -> Protocol:
    probes_from = enrolled if probes_from is None else probes_from
    chosen = {name: files for name, files in people.items() if len(files) >= need}
    return Protocol(label, {name: [index[f] for f in files[:enrolled]] for name, files in chosen.items()},
                    [(index[f], name) for name, files in chosen.items() for f in files[probes_from:]], singles)


# ----------------------------------------------------------------------------------------------- matching

def _best_two(probes: np.ndarray, gallery: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per probe: best person index, its distance, second-best distance (inf rows for NaN probes)."""
    count = len(probes)
    best = np.full(count, -1)
    d1 = np.full(count, np.inf)
    d2 = np.full(count, np.inf)
    found = np.isfinite(probes).all(axis=1)
    if not found.any() or len(gallery) == 0:
        return best, d1, d2
    p = probes[found].astype(np.float64)
    per_person = per_person_distances(p, gallery, starts)
    order = np.argsort(per_person, axis=1)[:, :2]
    rows = np.arange(len(p))
    best[found] = order[:, 0]
    d1[found] = per_person[rows, order[:, 0]]
    if per_person.shape[1] > 1:
        d2[found] = per_person[rows, order[:, 1]]
    return best, d1, d2


def match(embeddings: np.ndarray, protocol: Protocol) -> Outcomes:
    names, rows, missing = [], [], 0
    for name, indices in protocol.gallery.items():
        usable = [i for i in indices if np.isfinite(embeddings[i]).all()]
        missing += len(indices) - len(usable)
        if usable:  # a person whose enrolled photos all lack a face is not enrolled at all
            names.append(name)
            rows.append(embeddings[usable])
    gallery = np.concatenate(rows).astype(np.float64) if rows else np.zeros((0, embeddings.shape[1]))
    starts = np.concatenate([[0], np.cumsum([len(r) for r in rows])[:-1]]).astype(np.int64)
    position = {name: i for i, name in enumerate(names)}
    genuine_idx = np.array([i for i, _ in protocol.genuine], np.int64)
    truth = np.array([position.get(name, -2) for _, name in protocol.genuine])
    g_best, g_d1, g_d2 = _best_two(embeddings[genuine_idx], gallery, starts)
    _, i_d1, i_d2 = _best_two(embeddings[np.array(protocol.impostor, np.int64)], gallery, starts)
    return Outcomes(g_d1, g_d2, g_best == truth, i_d1, i_d2, len(names),
                    int((~np.isfinite(embeddings[genuine_idx]).all(1)).sum()),
                    int((~np.isfinite(embeddings[protocol.impostor]).all(1)).sum()), missing)


# ----------------------------------------------------------------------------------------------- rates

def _accepted(d1: np.ndarray, d2: np.ndarray, threshold: float, margin: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # no face: inf - inf is NaN, and NaN >= margin is False (rejected)
        return (d1 < threshold) & (d2 - d1 >= margin)


def rates(o: Outcomes, threshold: float, margin: float = 0.0) -> dict:
    genuine = _accepted(o.genuine_d1, o.genuine_d2, threshold, margin)
    impostor = _accepted(o.impostor_d1, o.impostor_d2, threshold, margin)
    return {"dir": float((genuine & o.genuine_right).mean()), "wrong": float((genuine & ~o.genuine_right).mean()),
            "far": float(impostor.mean()), "false_accepts": int(impostor.sum()), "impostors": len(impostor),
            "granted": int((genuine & o.genuine_right).sum()), "granted_wrong": int((genuine & ~o.genuine_right).sum()),
            "genuine": len(genuine)}


def threshold_at_far(o: Outcomes, target: float, margin: float = 0.0) -> float:
    """Largest threshold whose false-accept rate on these impostor probes is at most `target`."""
    with np.errstate(invalid="ignore"):
        eligible = np.sort(o.impostor_d1[(o.impostor_d2 - o.impostor_d1 >= margin) & np.isfinite(o.impostor_d1)])
    allowed = int(np.floor(target * len(o.impostor_d1) + 1e-9))
    return float(eligible[allowed]) if allowed < len(eligible) else float("inf")


def rank1_wrong(o: Outcomes) -> float:
    return float((np.isfinite(o.genuine_d1) & ~o.genuine_right).mean())


# ----------------------------------------------------------------------------------------------- halves

def split_halves(people: dict[str, list[str]], rng: np.random.Generator) -> list[dict[str, list[str]]]:
    names = list(rng.permutation(sorted(people)))
    half = len(names) // 2
    return [{n: people[n] for n in sorted(names[:half])}, {n: people[n] for n in sorted(names[half:])}]


def held_out(embeddings: np.ndarray, halves, index, target: float, margin: float) -> dict:
    """Threshold set on one half's impostors, applied to the other half (each half its own site); both ways."""
    outcomes = [match(embeddings, build_protocols(h, index)[0]) for h in halves]
    far, dir_, oracle, k, n = [], [], [], 0, 0
    for calibrate_on, test_on in ((0, 1), (1, 0)):
        t = threshold_at_far(outcomes[calibrate_on], target, margin)
        r = rates(outcomes[test_on], t, margin)
        far.append(r["far"])
        dir_.append(r["dir"])
        k, n = k + r["false_accepts"], n + r["impostors"]
        oracle.append(rates(outcomes[test_on], threshold_at_far(outcomes[test_on], target, margin), margin)["dir"])
    return {"far": float(np.mean(far)), "dir": float(np.mean(dir_)), "oracle_dir": float(np.mean(oracle)),
            "false_accepts": k, "impostors": n, "people": [o.people for o in outcomes]}


# ----------------------------------------------------------------------------------------------- sites

SITE_SIZES = ((20, 1), (20, 3), (100, 1), (100, 3), (1000, 1))
CALIBRATION_SITE = (100, 3)
SITE_TARGET_FAR = 0.001
DRAWS = 5
PROBES_PER_PERSON = 5


@dataclass(frozen=True)
class SiteRule:
    """How a kiosk decides: accept the best person when under `threshold` and `margin` ahead of the next."""

    label: str
    system: str  # which embeddings
    margin: float
    threshold: float | None = None  # None: set on the calibration half


def draw_sites(people: dict[str, list[str]], index: dict[str, int], size: int, photos: int,
               seed: int) -> list[Protocol] | None:
    """DRAWS random sites of `size` people with `photos` enrolled each; None when too few people qualify."""
    eligible = sorted(n for n, files in people.items() if len(files) >= photos + 1)
    if len(eligible) < size:
        return None
    rng = np.random.default_rng(seed)
    sites = []
    for _ in range(DRAWS):
        enrolled = set(rng.choice(eligible, size, replace=False).tolist())
        sites.append(Protocol(
            f"{size} x {photos}",
            {n: [index[f] for f in people[n][:photos]] for n in sorted(enrolled)},
            [(index[f], n) for n in sorted(enrolled) for f in people[n][photos:photos + PROBES_PER_PERSON]],
            [index[f] for n, files in people.items() if n not in enrolled for f in files[:PROBES_PER_PERSON]]))
    return sites


def site_outcomes(embeddings: np.ndarray, people: dict[str, list[str]], index: dict[str, int], size: int,
                  photos: int, seed: int) -> list[Outcomes] | None:
    sites = draw_sites(people, index, size, photos, seed)
    return None if sites is None else [match(embeddings, protocol) for protocol in sites]


def pooled(sites: list[Outcomes], threshold: float, margin: float) -> dict:
    """Counts over all draws: strangers accepted, genuine accepted as the right person, as someone else."""
    fa = stranger = ga = wrong = genuine = 0
    for o in sites:
        r = rates(o, threshold, margin)
        fa, stranger = fa + r["false_accepts"], stranger + r["impostors"]
        ga, wrong, genuine = ga + r["granted"], wrong + r["granted_wrong"], genuine + r["genuine"]
    return {"fa": fa, "strangers": stranger, "ga": ga, "wrong": wrong, "genuine": genuine}


def site_threshold(sites: list[Outcomes], target: float, margin: float, bounded: bool = False) -> float:
    """Largest threshold whose pooled FAR over these sites is at most `target`; with `bounded`, whose 95 %
    upper confidence bound is (as `facegate calibrate` recommends: the point estimate is a coin toss)."""
    with np.errstate(invalid="ignore"):
        eligible = np.sort(np.concatenate([o.impostor_d1[(o.impostor_d2 - o.impostor_d1 >= margin)
                                                          & np.isfinite(o.impostor_d1)] for o in sites]))
    total = sum(len(o.impostor_d1) for o in sites)
    allowed = largest_supported_count(total, target) if bounded else int(np.floor(target * total + 1e-9))
    if allowed < 0:
        return 0.0
    return float(eligible[allowed]) if allowed < len(eligible) else float("inf")


def with_interval(k: int, n: int) -> str:
    low, high = interval(k, n)
    return f"{pct(k / n, 3)} ({pct(low, 3)}-{pct(high, 3)})"


def counted(k: int, n: int, rate: str) -> dict:
    """The JSON figures of `with_interval`: `rate` (k / n), its 95 % interval, and k and n."""
    low, high = interval(k, n)
    return {rate: k / n, f"{rate}_low": low, f"{rate}_high": high, f"{rate}_count": k, f"{rate}_of": n}


def print_sites(report: Report, systems, people, index, halves, seed: int) -> dict:
    """Table D (see the module's docstring); returns each rule's threshold, set on the calibration half."""
    embeddings = {short: emb for short, _, emb in systems}
    rules = [SiteRule(f"facegate: fused, app default {FACEGATE_DEFAULT}", "facegate", MARGIN, FACEGATE_DEFAULT),
             SiteRule("facegate: fused, + margin", "facegate", MARGIN),
             SiteRule("facegate: fused, no margin", "facegate", 0.0),
             SiteRule("dlib alone, + margin", "dlib", MARGIN),
             SiteRule(f"dlib, old app default {DLIB_OLD_DEFAULT}", "dlib", MARGIN, DLIB_OLD_DEFAULT),
             SiteRule(f"dlib, face_recognition's rule {PEER_RULE}", "dlib", 0.0, PEER_RULE),
             SiteRule("sface alone, + margin", "sface", MARGIN)]
    rules = [r for r in rules if r.system in embeddings]
    calibrate_on, test_on = halves
    thresholds = {}
    for rule in rules:
        if rule.threshold is not None:
            thresholds[rule.label] = rule.threshold
        else:
            sites = site_outcomes(embeddings[rule.system], calibrate_on, index, *CALIBRATION_SITE, seed)
            thresholds[rule.label] = site_threshold(sites, SITE_TARGET_FAR, rule.margin, bounded=True)
    report.say(f"D. Sites: strangers accepted (FAR) and enrolled people's photos granted as themselves (GAR), %, "
               f"with 95 % intervals; {DRAWS} draws pooled; threshold set for FAR <= {percent(SITE_TARGET_FAR)} (95 % "
               f"bound) at {CALIBRATION_SITE[0]} x {CALIBRATION_SITE[1]} on the calibration half "
               f"({len(calibrate_on):,} people), measured on the other half ({len(test_on):,})")
    report.say(f"{'rule':<36}{'thr':>7}{'site':>10}{'strangers':>10}{'FAR (95 % CI)':>26}{'GAR (95 % CI)':>28}"
               f"{'wrong':>8}")
    for rule in rules:
        for size, photos in SITE_SIZES:
            pool = test_on if size < 1000 else people
            sites = site_outcomes(embeddings[rule.system], pool, index, size, photos, seed + size + photos)
            site = {"rule": rule.label, "threshold": thresholds[rule.label], "people": size, "photos": photos}
            if sites is None:
                report.row("D_sites", f"{rule.label:<36}{thresholds[rule.label]:>7.3f}{f'{size} x {photos}':>10}  "
                           "too few people", **site, strangers=None)
                continue
            c = pooled(sites, thresholds[rule.label], rule.margin)
            report.row("D_sites", f"{rule.label:<36}{thresholds[rule.label]:>7.3f}{f'{size} x {photos}':>10}"
                       f"{c['strangers']:>10,}{with_interval(c['fa'], c['strangers']):>26}"
                       f"{with_interval(c['ga'], c['genuine']):>28}{pct(c['wrong'] / c['genuine'], 3):>8}",
                       **site, **counted(c["fa"], c["strangers"], "far"), **counted(c["ga"], c["genuine"], "gar"),
                       wrong=c["wrong"] / c["genuine"])
    if "facegate" in embeddings:
        report.say()
        report.say("DET points, facegate fused + margin, 100 x 3 on the measured half: GAR at the threshold where "
                   "FAR first reaches each target (threshold set on these strangers: how far the ceiling is)")
        sites = site_outcomes(embeddings["facegate"], test_on, index, 100, 3, seed + 103)
        strangers = sum(len(o.impostor_d1) for o in sites)
        for target in (0.01, 0.001, 0.0001):
            t = site_threshold(sites, target, MARGIN)
            c = pooled(sites, t, MARGIN)
            report.row("D_det_points",
                       f"  FAR {percent(target):>7}: threshold {t:.3f}, FAR {with_interval(c['fa'], c['strangers'])}, "
                       f"GAR {with_interval(c['ga'], c['genuine'])}"
                       + ("" if target * strangers >= 1 else f"  ({strangers:,} strangers: 'none accepted')"),
                       target_far=target, threshold=t, **counted(c["fa"], c["strangers"], "far"),
                       **counted(c["ga"], c["genuine"], "gar"))
    return thresholds


# ----------------------------------------------------------------------------------------------- cohort

COHORT_NEIGHBOURS = 10  # the probe's nearest other enrolled people
BANK_NEIGHBOURS = 50  # the probe's nearest anonymous faces
COHORT_WEIGHTS = (0.25, 0.5, 1.0)
COHORT_FARS = (1e-3, 3e-4, 1e-4)


def _distances_to_people(probes: np.ndarray, rows: list[np.ndarray]) -> np.ndarray:
    """(probes, people): each probe's distance to each person's closest enrolled photo."""
    starts = np.concatenate([[0], np.cumsum([len(r) for r in rows])[:-1]]).astype(np.int64)
    return per_person_distances(probes, np.concatenate(rows).astype(np.float64), starts)


def print_cohort(report: Report, embeddings: np.ndarray, index: dict[str, int], halves, seed: int) -> None:
    """E. Lever 3: the best distance minus a weight times the mean distance to a cohort (a look-alike of
    everybody is close to the crowd too). Cohorts: the probe's nearest other enrolled people, or a bank of
    anonymous faces (one photo of each person of the calibration half: faces a kiosk saw as Unknown). Scored
    like the DET points: threshold set on the pooled strangers of DRAWS 100 x 3 sites of the measured half."""
    calibrate_on, test_on = halves
    bank = embeddings[[index[files[0]] for files in calibrate_on.values()]]
    bank = bank[np.isfinite(bank).all(1)]
    rules = {"best distance (the app)": lambda d1, crowd, anon: d1}
    for w in COHORT_WEIGHTS:
        rules[f"- {w} x enrolled cohort ({COHORT_NEIGHBOURS})"] = lambda d1, crowd, anon, w=w: d1 - w * crowd
        rules[f"- {w} x anonymous bank ({BANK_NEIGHBOURS})"] = lambda d1, crowd, anon, w=w: d1 - w * anon
    genuine = {r: [] for r in rules}
    strangers = {r: [] for r in rules}
    for protocol in draw_sites(test_on, index, 100, 3, seed + 7):
        rows = [embeddings[i] for i in protocol.gallery.values()]
        position = {name: i for i, name in enumerate(protocol.gallery)}
        genuine_probes = np.array([i for i, _ in protocol.genuine])
        genuine_truth = np.array([position[name] for _, name in protocol.genuine])
        for probes, truth in ((genuine_probes, genuine_truth), (np.array(protocol.impostor), None)):
            p = embeddings[probes].astype(np.float64)
            to_people = _distances_to_people(p, rows)
            right = None if truth is None else to_people.argmin(1) == truth
            per_person = np.sort(to_people, axis=1)
            d1, crowd = per_person[:, 0], per_person[:, 1:COHORT_NEIGHBOURS + 1].mean(1)
            to_bank = per_person_distances(p, bank, np.arange(len(bank)))  # each anonymous face on its own
            anon = np.sort(to_bank, axis=1)[:, :BANK_NEIGHBOURS].mean(1)
            for label, rule in rules.items():
                score = rule(d1, crowd, anon)
                if right is None:
                    strangers[label].append(score)
                else:
                    genuine[label].append(np.where(right, score, np.inf))
    report.say("E. Lever 3, normalising against the crowd: enrolled people's photos granted (%) at the score where "
               f"the strangers' FAR first reaches each rate ({DRAWS} draws of 100 x 3, measured half)")
    report.say(f"{'score':<40}" + "".join(f"{'GAR@' + percent(t).replace(' ', ''):>12}" for t in COHORT_FARS))
    for label in rules:
        g, s = np.concatenate(genuine[label]), np.sort(np.concatenate(strangers[label]))
        gar = {target: float((g < s[int(np.floor(target * len(s) + 1e-9))]).mean()) for target in COHORT_FARS}
        report.row("E_cohort", f"{label:<40}" + "".join(f"{pct(gar[target]):>12}" for target in COHORT_FARS),
                   score=label, gar_at_far={f"{target:g}": gar[target] for target in COHORT_FARS})
    probes = sum(len(x) for x in strangers[next(iter(rules))])
    report.say(f"({probes:,} strangers' probes in all: 0.01 % is a handful)", E_cohort_strangers=probes)


# ----------------------------------------------------------------------------------------------- presentations

FRAMES_PER_PRESENTATION = 5  # the policy's vote window


def _policy_verdict(policy, d: np.ndarray):
    """Feed one presentation's per-frame person distances (frames, people) to a fresh AccessPolicy, as one
    track; its last decision (None: still pending)."""
    from facegate.matching import Match

    order = np.argsort(d, axis=1)
    decision = None
    for frame, (first, second) in enumerate(order[:, :2]):
        match = Match(str(first), float(d[frame, first]), float(d[frame, second] - d[frame, first]))
        decision = policy.add_vote(1, match, float(frame)) or decision
    return decision


def print_presentations(report: Report, embeddings: np.ndarray, index: dict[str, int], halves, seed: int) -> None:
    """F. Per presentation, and lever 2 (a track template). A presentation is FRAMES_PER_PRESENTATION frames of
    one person: their photos in turn (a person with one photo holds still: the same photo each frame), the
    kiosk's real AccessPolicy votes on them (3 of 5, threshold, margin; no liveness). With a template, the grant
    also needs the mean of the frames' embeddings to name the same person under the threshold."""
    from facegate.policy import AccessPolicy, Verdict

    settings = PolicySettings.from_settings(Settings())
    counts = {rule: [0, 0, 0, 0] for rule in ("votes (the app)", "votes + template", "template alone")}
    for protocol in draw_sites(halves[1], index, 100, 3, seed + 11):
        position = {name: i for i, name in enumerate(protocol.gallery)}
        rows = [embeddings[i] for i in protocol.gallery.values()]
        shown: dict[str, list[int]] = {}
        for i, person in protocol.genuine:
            shown.setdefault(person, []).append(i)
        presentations = [(position[person], frames) for person, frames in shown.items()]
        presentations += [(None, [index[f] for f in files[:PROBES_PER_PERSON]])
                          for person, files in halves[1].items() if person not in protocol.gallery]
        for truth, photos in presentations:
            frames = embeddings[[photos[k % len(photos)] for k in range(FRAMES_PER_PRESENTATION)]].astype(np.float64)
            d = _distances_to_people(frames, rows)
            template = _distances_to_people(frames.mean(0, keepdims=True), rows)[0]
            best = int(np.argmin(template))
            rival = np.partition(template, 1)[1] if len(template) > 1 else np.inf
            confident = template[best] < settings.threshold and rival - template[best] >= settings.min_margin
            template_says = best if confident else None
            decision = _policy_verdict(AccessPolicy(settings), d)
            voted = int(decision.name) if decision and decision.verdict is Verdict.GRANTED else None
            outcome = {"votes (the app)": voted,
                       "votes + template": voted if voted is not None and voted == template_says else None,
                       "template alone": template_says}
            for rule, granted in outcome.items():
                c = counts[rule]
                if truth is None:
                    c[0], c[1] = c[0] + (granted is not None), c[1] + 1
                else:
                    c[2], c[3] = c[2] + (granted == truth), c[3] + 1
    report.say(f"F. Per presentation ({FRAMES_PER_PRESENTATION} frames, the app's AccessPolicy, threshold "
               f"{settings.threshold}), and lever 2 (track template); {DRAWS} draws of 100 x 3, measured half")
    report.say(f"{'rule':<22}{'stranger presentations':>24}{'FAR (95 % CI)':>26}{'GAR (95 % CI)':>28}")
    for rule, (fa, n, ga, g) in counts.items():
        report.row("F_presentations", f"{rule:<22}{n:>24,}{with_interval(fa, n):>26}{with_interval(ga, g):>28}",
                   rule=rule, **counted(fa, n, "far"), **counted(ga, g, "gar"))


# ----------------------------------------------------------------------------------------------- learning

LEARNING_SITE = 100


@dataclass(frozen=True)
class LearningRule:
    label: str
    max_distance: float
    min_margin: float
    max_distance_to_enrolled: float  # inf: no anchor (learned photos vouch for each other)
    keep: int


def learning_rules() -> list[LearningRule]:
    from facegate.learning import LearningSettings

    app = LearningSettings()
    return [LearningRule("no learning (the app until now)", 0.0, 0.0, 0.0, 0),
            LearningRule(f"the app's rule ({app.max_distance}, margin {app.min_margin}, keep {app.keep})",
                         app.max_distance, app.min_margin, app.max_distance_to_enrolled, app.keep),
            LearningRule(f"learn every grant ({FACEGATE_DEFAULT}, margin {MARGIN}, keep {app.keep})",
                         FACEGATE_DEFAULT, MARGIN, app.max_distance_to_enrolled, app.keep),
            LearningRule(f"every grant, no anchor, keep {3 * app.keep}", FACEGATE_DEFAULT, MARGIN, np.inf,
                         3 * app.keep)]


def _learning_site(embeddings: np.ndarray, people: dict[str, list[str]], index: dict[str, int],
                   rng: np.random.Generator):
    """One site: (enrolled rows, their starts, stream [(image, person position or -1)], genuine tests
    [(image, position)], stranger test images), faces not found left out."""
    usable = {n: [index[f] for f in files if np.isfinite(embeddings[index[f]]).all()] for n, files in people.items()}
    eligible = sorted(n for n, images in usable.items() if len(images) >= 5)
    enrolled = sorted(rng.choice(eligible, LEARNING_SITE, replace=False).tolist())
    stream, genuine = [], []
    for position, name in enumerate(enrolled):
        rest = usable[name][3:]
        half = max(1, len(rest) // 2)
        stream += [(i, position) for i in rest[:half]]
        genuine += [(i, position) for i in rest[half:half + PROBES_PER_PERSON]]
    strangers = []
    for name, images in usable.items():
        if name in enrolled or not images:
            continue
        stream.append((images[0], -1))
        strangers += images[1:1 + PROBES_PER_PERSON] if len(images) > 1 else images[:1]
    rows = embeddings[[i for n in enrolled for i in usable[n][:3]]].astype(np.float64)
    starts = np.arange(0, 3 * LEARNING_SITE, 3)
    order = rng.permutation(len(stream))
    return rows, starts, [stream[k] for k in order], genuine, strangers


def _with_learned(to_enrolled: np.ndarray, to_stream: np.ndarray, learned: np.ndarray) -> np.ndarray:
    """Per-person distances with each person's learned photos (stream positions in `learned`, -1 empty), as the
    gallery matches them: only where the enrolled photos are under the threshold (matching.learned_only_under)."""
    if learned.shape[1] == 0:
        return to_enrolled
    d = np.where(learned[None] >= 0, to_stream[:, np.maximum(learned, 0)], np.inf).min(2)
    return learned_only_under(to_enrolled, np.minimum(to_enrolled, d), FACEGATE_DEFAULT)


def learning_outcome(embeddings: np.ndarray, site, rule: LearningRule) -> dict:
    rows, starts, stream, genuine, strangers = site
    stream_images = np.array([i for i, _ in stream])
    stream_e = embeddings[stream_images].astype(np.float64)
    to_enrolled = per_person_distances(stream_e, rows, starts)
    between = per_person_distances(stream_e, stream_e, np.arange(len(stream_e)))
    learned = np.full((LEARNING_SITE, rule.keep), -1)
    right = wrong = 0
    for step, (_, truth) in enumerate(stream):
        if rule.keep == 0:
            break
        d = _with_learned(to_enrolled[step:step + 1], between[step:step + 1], learned)[0]
        first, second = np.partition(d, 1)[:2]
        best = int(np.argmin(d))
        if first < rule.max_distance and second - first >= rule.min_margin \
                and to_enrolled[step, best] <= rule.max_distance_to_enrolled:
            learned[best] = np.roll(learned[best], -1)
            learned[best, -1] = step
            right, wrong = right + (truth == best), wrong + (truth != best)
    counts = {"right": right, "wrong": wrong}
    for kind, probes in (("genuine", genuine), ("strangers", [(i, -1) for i in strangers])):
        p = embeddings[[i for i, _ in probes]].astype(np.float64)
        d = _with_learned(per_person_distances(p, rows, starts), per_person_distances(p, stream_e,
                          np.arange(len(stream_e))), learned)
        order = np.argsort(d, axis=1)[:, :2]
        d1, d2 = np.take_along_axis(d, order, 1).T
        accepted = (d1 < FACEGATE_DEFAULT) & (d2 - d1 >= MARGIN)
        truth = np.array([t for _, t in probes])
        counts[kind] = (int((accepted & (order[:, 0] == truth)).sum()) if kind == "genuine"
                        else int(accepted.sum()), len(probes))
    return counts


def print_learning(report: Report, embeddings: np.ndarray, people: dict[str, list[str]], index: dict[str, int],
                   seed: int) -> None:
    """G. Lever 4 (see the module's docstring)."""
    rng = np.random.default_rng(seed + 17)
    sites = [_learning_site(embeddings, people, index, rng) for _ in range(DRAWS)]
    report.say(f"G. Lever 4, learning from visits: {DRAWS} draws of {LEARNING_SITE} x 3 (people with >= 5 photos, all "
               f"of LFW), threshold {FACEGATE_DEFAULT} and margin {MARGIN}; a stream of visits first, then the tests")
    report.say(f"{'rule':<46}{'learned: own / other':>22}{'FAR (95 % CI)':>26}{'GAR (95 % CI)':>28}")
    for rule in learning_rules():
        total = {"right": 0, "wrong": 0, "genuine": [0, 0], "strangers": [0, 0]}
        for site in sites:
            c = learning_outcome(embeddings, site, rule)
            total["right"] += c["right"]
            total["wrong"] += c["wrong"]
            for kind in ("genuine", "strangers"):
                total[kind] = [a + b for a, b in zip(total[kind], c[kind], strict=False)]
        learned = f"{total['right']:,} / {total['wrong']:,}"
        report.row("G_learning", f"{rule.label:<46}{learned:>22}{with_interval(*total['strangers']):>26}"
                   f"{with_interval(*total['genuine']):>28}", rule=rule.label, learned_own=total["right"],
                   learned_other=total["wrong"], **counted(*total["strangers"], "far"),
                   **counted(*total["genuine"], "gar"))
    visits = sum(len(site[2]) for site in sites)
    strangers = sum(sum(truth < 0 for _, truth in site[2]) for site in sites)
    tested = sum(len(site[4]) for site in sites), sum(len(site[3]) for site in sites)
    report.say(f"({visits:,} visits in the streams, {strangers:,} of them strangers'; then {tested[0]:,} strangers' "
               f"and {tested[1]:,} enrolled people's photos tested; 'other' counts photos learned as "
               "somebody they are not. LFW's photos are not one kiosk's camera: the gain a kiosk gets from learning "
               "its own camera and light cannot be measured here)", G_learning_visits=visits,
               G_learning_stranger_visits=strangers, G_learning_strangers_tested=tested[0],
               G_learning_enrolled_tested=tested[1])


# ----------------------------------------------------------------------------------------------- report

def pct(value: float, digits: int = 2) -> str:
    return f"{100 * value:.{digits}f}"


@dataclass(frozen=True)
class Study:
    """The images and who is in them, and the enrollment settings measured on them."""

    people: dict[str, list[str]]  # person -> their image names, in a seeded random order
    names: list[str]  # every image (relative to LFW's images/), a row of the embeddings each
    index: dict[str, int]
    protocols: list[Protocol]
    halves: list[dict[str, list[str]]]  # the people split in two sites: calibrate on one, measure on the other


def lay_out(images_root: Path, limit_people: int | None, seed: int) -> Study:
    people = shuffled_people(images_root, np.random.default_rng(seed), limit_people)
    names = sorted(f for files in people.values() for f in files)
    index = {name: i for i, name in enumerate(names)}
    return Study(people, names, index, build_protocols(people, index),
                 split_halves(people, np.random.default_rng(seed + 1)))


def embed(wanted: list[str], names: list[str], images_root: Path, cache: Path | None) -> list[tuple]:
    """(short name, label, embeddings) of each system asked for, in lfw.py's order."""
    systems = []
    if {"facegate", "dlib", "sface"} & set(wanted):
        # One pass of the app's engine gives the fused embedding and each embedder's alone.
        for short, result in zip(("facegate", "dlib", "sface"),
                                 run_system(FacegateSystem(), names, images_root, cache), strict=False):
            if short in wanted:
                systems.append((short, result.label, result.embeddings))
    if "face_recognition" in wanted:
        [peer] = run_system(PeerSystem(), names, images_root, cache)
        systems.append(("face_recognition", peer.label, peer.embeddings))
    return systems


def table_rows(protocols: list[Protocol]) -> list[tuple[Protocol, float]]:
    """The rows of tables A and B: (protocol, margin); the first and the 3-photo protocols also with the margin."""
    rows = []
    for protocol in protocols:
        rows.append((protocol, 0.0))
        if protocol is protocols[0] or protocol.label.startswith("3 photos"):
            rows.append((protocol, MARGIN))
    return rows


def row_label(protocol: Protocol, margin: float) -> str:
    return protocol.label + (f" + margin {margin:.2f}" if margin else "")


def print_header(report: Report, study: Study, systems, seed: int, limit_people: int | None) -> None:
    main_protocol = study.protocols[0]
    report.say(f"LFW open-set identification, seed {seed}: {len(study.names):,} images of {len(study.people):,} "
               f"people (the images of pairs.txt{'' if limit_people is None else f', --limit-people {limit_people}'})",
               seed=seed, images=len(study.names), people=len(study.people), limit_people=limit_people)
    report.say(f"impostor probes: the {len(main_protocol.impostor):,} photos of people with one photo (never "
               "enrolled); genuine probes: enrolled people's other photos", impostor_probes=len(main_protocol.impostor))
    for short, label, embeddings in systems:
        no_face = int((~np.isfinite(embeddings).all(1)).sum())
        report.row("systems", f"  {short:<17}{label}: no face found in {no_face} of {len(study.names):,} images",
                   system=short, label=label, no_face=no_face)


def print_identification(report: Report, systems, rows, outcomes) -> None:
    """A. DIR at a FAR, the threshold set on the same impostor probes."""
    report.say("A. Detection-and-identification rate (%) at a false-accept rate, threshold set on these impostor "
               "probes; wrong = accepted as someone else (%)")
    report.say(f"{'system':<17}{'enrollment (rule)':<42}{'people':>7}{'genuine':>8}{'impost.':>8}"
               + "".join(f"{'DIR@' + percent(t).replace(' ', ''):>11}{'thr':>7}{'wrong':>7}" for t in TARGETS)
               + f"{'rank-1 wrong':>14}")
    for short, _, _ in systems:
        for protocol, margin in rows:
            o = outcomes[(short, protocol.label)]
            line = (f"{short:<17}{row_label(protocol, margin):<42}{o.people:>7,}{len(o.genuine_d1):>8,}"
                    f"{len(o.impostor_d1):>8,}")
            at_far = {}
            for target in TARGETS:
                t = threshold_at_far(o, target, margin)
                r = rates(o, t, margin)
                line += f"{pct(r['dir']):>11}{t:>7.3f}{pct(r['wrong']):>7}"
                at_far[f"{target:g}"] = {"dir": r["dir"], "threshold": t, "wrong": r["wrong"]}
            wrong = rank1_wrong(o)
            report.row("A_identification", line + f"{pct(wrong):>14}", system=short,
                       enrollment=row_label(protocol, margin), people=o.people, genuine=len(o.genuine_d1),
                       impostors=len(o.impostor_d1), at_far=at_far, rank1_wrong=wrong)


def print_fixed_thresholds(report: Report, systems, rows, outcomes) -> None:
    """B. face_recognition's rule and the app's default threshold."""
    report.say(f"B. Fixed thresholds: face_recognition's rule (best match under {PEER_RULE}) and FaceGate's default "
               f"({FACEGATE_DEFAULT}); FAR with its 95 % interval, DIR and wrong-person rate (%)")
    report.say(f"{'system':<17}{'enrollment (rule)':<42}" + "".join(
        f"{'FAR@' + str(t):>24}{'DIR@' + str(t):>9}{'wrong':>7}" for t in (PEER_RULE, FACEGATE_DEFAULT)))
    for short, _, _ in systems:
        if short == "sface":  # unit vectors: these thresholds belong to dlib's scale (and the fused one's)
            continue
        for protocol, margin in rows:
            o = outcomes[(short, protocol.label)]
            line = f"{short:<17}{row_label(protocol, margin):<42}"
            at_threshold = {}
            for t in (PEER_RULE, FACEGATE_DEFAULT):
                r = rates(o, t, margin)
                low, high = interval(r["false_accepts"], r["impostors"])
                far = f"{pct(r['far'])} ({pct(low)}-{pct(high)})"
                line += f"{far:>24}{pct(r['dir']):>9}{pct(r['wrong']):>7}"
                at_threshold[f"{t:g}"] = {**counted(r["false_accepts"], r["impostors"], "far"), "dir": r["dir"],
                                          "wrong": r["wrong"]}
            report.row("B_fixed_thresholds", line, system=short, enrollment=row_label(protocol, margin),
                       at_threshold=at_threshold)


def print_held_out(report: Report, systems, study: Study) -> None:
    """C. The threshold set on one half of the people, measured on the other."""
    report.say("C. Held out: threshold set on half the people (a site of its own), measured on the other half; both "
               "ways, averaged")
    report.say(f"{'system':<17}{'rule':<24}{'target':>8}{'FAR achieved':>22}{'DIR':>8}{'DIR (same-half thr)':>21}"
               f"{'people per half':>17}")
    for short, _, embeddings in systems:
        for margin in (0.0, MARGIN):
            for target in TARGETS:
                h = held_out(embeddings, study.halves, study.index, target, margin)
                rule = "1 photo" + (f" + margin {margin:.2f}" if margin else "")
                achieved = f"{pct(h['far'], 3)} ({h['false_accepts']}/{h['impostors']:,})"
                report.row("C_held_out", f"{short:<17}{rule:<24}{percent(target):>8}{achieved:>22}"
                           f"{pct(h['dir']):>8}{pct(h['oracle_dir']):>21}"
                           f"{' / '.join(f'{p:,}' for p in h['people']):>17}",
                           system=short, rule=rule, target_far=target, far=h["far"],
                           false_accepts=h["false_accepts"], impostors=h["impostors"], dir=h["dir"],
                           dir_same_half_threshold=h["oracle_dir"], people_per_half=h["people"])


def print_notes(report: Report, systems, study: Study, outcomes) -> None:
    main_protocol = study.protocols[0]
    detail, no_face = [], {}
    for short, _, _ in systems:
        o = outcomes[(short, main_protocol.label)]
        detail.append(f"{short}: {o.gallery_no_face} enrolled photos, {o.genuine_no_face} genuine and "
                      f"{o.impostor_no_face} impostor probes")
        no_face[short] = {"enrolled": o.gallery_no_face, "genuine": o.genuine_no_face, "impostor": o.impostor_no_face}
    report.say("no face found (row '1 photo, people with >= 2'): " + "; ".join(detail), no_face_found=no_face)
    report.say("DIR counts a genuine probe with no face as missed; an impostor probe with no face as rejected. "
               f"Margin = distance to the second-best person minus the best's (facegate/policy.py min_margin "
               f"{MARGIN}).", margin=MARGIN)
    report.say("FAR is per impostor probe against the whole gallery, so it grows with the number enrolled: compare "
               "rows with the same number of people.")
    fewest = min(len(main_protocol.impostor), min(sum(len(f) == 1 for f in h.values()) for h in study.halves))
    for target in TARGETS:
        if fewest * target < 1:
            report.say(f"note: with {fewest:,} impostor probes (in a half), a FAR of {percent(target)} allows no "
                       "false accept at all: read those figures as 'no impostor accepted'")


def main(argv=None) -> int:
    parser = bench_parser("LFW open-set identification: facegate vs face_recognition")
    parser.add_argument("--cache", type=Path, default=None,
                        help="benchmarks/lfw.py's embedding cache folder (shared with it)")
    parser.add_argument("--limit-people", type=int, default=None,
                        help="use a seeded random subset of N people (quick run without a cache)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--systems", default="facegate,dlib,sface",
                        help="comma list of: facegate (fused, the app), dlib, sface, face_recognition (slow: "
                             "its own HOG detector)")
    args = parser.parse_args(argv)
    report = Report("openset", args.json)
    root = need_lfw(report)
    wanted = [s.strip() for s in args.systems.split(",") if s.strip()]
    known = ("facegate", "dlib", "sface", "face_recognition")
    if not wanted or set(wanted) - set(known):
        parser.error(f"--systems takes a comma list of {', '.join(known)}; got {args.systems!r}")

    started = time.perf_counter()
    study = lay_out(root / "images", args.limit_people, args.seed)
    systems = embed(wanted, study.names, root / "images", args.cache)
    outcomes = {(short, p.label): match(emb, p) for short, _, emb in systems for p in study.protocols}

    rows = table_rows(study.protocols)
    print_header(report, study, systems, args.seed, args.limit_people)
    report.say()
    print_identification(report, systems, rows, outcomes)
    report.say()
    print_fixed_thresholds(report, systems, rows, outcomes)
    report.say()
    print_held_out(report, systems, study)
    report.say()
    print_sites(report, systems, study.people, study.index, study.halves, args.seed)
    fused = next((emb for short, _, emb in systems if short == "facegate"), None)
    if fused is not None:  # the levers are tried on the app's own embedding
        report.say()
        print_cohort(report, fused, study.index, study.halves, args.seed)
        report.say()
        print_presentations(report, fused, study.index, study.halves, args.seed)
        report.say()
        print_learning(report, fused, study.people, study.index, args.seed)
    report.say()
    print_notes(report, systems, study, outcomes)
    if args.cache is not None:
        report.say(f"embeddings from the cache {args.cache}", cache=args.cache)
    wall_s = time.perf_counter() - started
    report.say(f"wall time {wall_s:.0f} s; cpu: {os.cpu_count()} cores", wall_s=wall_s, cpu_cores=os.cpu_count())
    report.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
