"""Frame processing: detect (reduced resolution) -> track -> for new or due tracks only: landmarks -> chips ->
encoder (one batch) -> gallery match -> per-track vote (policy) -> liveness check on identified tracks only
(dense landmarks) -> decisions.

The pipeline knows nothing of Qt, speech or disk: it returns a `FrameResult` per frame, and whoever runs it
(`facegate.session`) hands the results on to the window, the speech worker and the access log.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from facegate.capture import Frame, as_rgb8
from facegate.config import Settings
from facegate.liveness import AttemptLimiter, CheckState, LivenessCheck, LivenessMode, LivenessSettings, LivenessStatus
from facegate.liveness.cues import PassiveCue
from facegate.policy import AccessPolicy, Decision, Verdict
from facegate.tracking import Track, Tracker

WAIT_INSTRUCTION = "Please wait before trying again"
# The passive cues for a new liveness check on a face claimed to be this person.
CueFactory = Callable[[str], list[PassiveCue]]


@dataclass(frozen=True)
class PipelineSettings:
    # The detector sees frames shrunk to this longest side: 320 finds faces from ~60 px (in 640x480) at ~3 ms.
    detect_max_side: int = 320
    # Faces narrower than this (full-frame pixels) are not encoded: too far from the kiosk to be reliable.
    min_face_width: int = 60
    # Faces encoded per frame at most (one batch); the rest wait for the next frame.
    max_batch: int = 4
    # Granted tracks are re-encoded this often (s), catching a swap of faces between tracks.
    recheck_granted_s: float = 1.0
    # Unknown tracks are retried this often (s): a person turning to face the camera can still be recognised.
    retry_unknown_s: float = 0.25
    # While a liveness check runs, the identity is re-checked this often (s): a face swap cancels the check.
    recheck_during_liveness_s: float = 0.3
    # A new encoding farther than this (fused distance) from every recent encoding of its track is another face:
    # the track is split, and nothing it held (name, vote, liveness check, wait) passes on. Frame by frame, a face
    # the kiosk encodes stays within 0.52 of its last five encodings on the clip (profiles included) and within
    # 0.33 on 22 clips of 19 real people; at the clip's cut the box landed on a face 0.64 away
    # (benchmarks/track_identity.py). The same bound as "confidently nobody" (PolicySettings.unknown_distance).
    same_face_distance: float = 0.6

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineSettings:
        return cls(detect_max_side=settings.detect_max_side, min_face_width=settings.min_face_width)


@dataclass(frozen=True)
class TrackView:
    """What the window draws for one face (an immutable copy; the pipeline keeps the live Track). Data only:
    the screen chooses the words (facegate.ui.captions)."""

    id: int
    box: tuple[float, float, float, float]
    verdict: Verdict
    name: str | None
    distance: float | None
    margin: float | None
    too_far: bool = False  # narrower than the pipeline's min_face_width: not recognised from there
    instruction: str = ""  # a liveness request being shown ("Please open your mouth"), or WAIT_INSTRUCTION
    icon: str = ""  # eye (passive) | mouth | left | right | down
    countdown: float | None = None  # seconds left for the request (or the wait)
    waiting: bool = False  # `instruction` is the wait after failed checks of this face's identity, not a request
    in_view: bool = True  # detected in this frame; False: a track kept a moment after its face was last seen
    refusal: str = ""  # DENIED by an access rule: its reason in plain words (facegate.access_rules)


class AttemptOutcome(str, enum.Enum):
    GRANTED = "granted"
    REFUSED = "refused"  # the liveness check failed
    WALKED_AWAY = "walked away"  # the face left before the check decided


@dataclass(frozen=True)
class LivenessAttempt:
    """One liveness check on a recognised face, as it ended: what a site's trial keeps (Settings.liveness_trial)
    to learn its own figures (`facegate report liveness`)."""

    person: str  # the identity claimed
    outcome: AttemptOutcome
    seconds_to_outcome: float  # from the face's first frame (first findable) to the outcome
    seconds_checking: float  # the liveness check alone
    asked: bool  # requests were shown
    cues: dict


@dataclass
class FrameResult:
    frame: Frame
    tracks: list[TrackView]
    decisions: list[Decision]
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)  # track id -> face crop for the log
    encoded: int = 0
    seconds: float = 0.0
    prompts: list[str] = field(default_factory=list)  # new liveness requests to say aloud
    meshed: int = 0  # faces that got dense landmarks this frame (liveness checks only)
    attempts: list[LivenessAttempt] = field(default_factory=list)  # liveness checks that ended on this frame


def _waiting(track: Track) -> bool:
    """The track's claimed identity must wait before its next liveness check (AttemptLimiter)."""
    return track.liveness is not None and track.liveness.state is CheckState.WAITING


def _flag_tailgating(decision: Decision, views: list[TrackView], seen: set[int]) -> Decision:
    """A grant while another face that is not granted is in view carries `tailgating` (and how many) in its
    details: the access log, the window and the actions see it (facegate/actions routes it separately). In view:
    detected in this frame (`seen`), not a track kept for a moment after its face was last found (a cut in a
    video, or someone who just left, would otherwise raise the alert for a face that is not there)."""
    if decision.verdict is not Verdict.GRANTED:
        return decision
    others = [v for v in views if v.id != decision.track_id and v.id in seen and v.verdict is not Verdict.GRANTED]
    if not others:
        return decision
    return replace(decision, details={**decision.details, "tailgating": True, "others_in_view": len(others)})


def face_crop(image: np.ndarray, box, grow: float = 0.6) -> np.ndarray:
    """The face with some context around it, for the access log."""
    x, y, w, h = box
    cx, cy, side = x + w / 2, y + h / 2, max(w, h) * (1 + grow)
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(image.shape[1], cx + side / 2)), int(min(image.shape[0], cy + side / 2))
    return image[y0:y1, x0:x1].copy()


class Pipeline:
    def __init__(self, engine, gallery, policy: AccessPolicy | None = None,
                 settings: PipelineSettings | None = None, liveness: LivenessSettings | None = None,
                 rng: random.Random | None = None, cue_factory: CueFactory | None = None):
        self.engine = engine
        # The passive cues of each new liveness check, for the identity it claims (the kiosk's assembly makes them:
        # the texture model, the screen's light, the whole face).
        self.cue_factory = cue_factory
        self.gallery = gallery
        self.policy = policy or AccessPolicy()
        self.settings = settings or PipelineSettings()
        self.liveness = liveness or LivenessSettings(mode=LivenessMode.OFF)
        self.policy.liveness_required = self.liveness.mode is not LivenessMode.OFF
        self.rng = rng or random.SystemRandom()  # challenge requests must not be predictable
        self.tracker = Tracker()
        self.checks: dict[int, LivenessCheck] = {}
        self.passed_checks: dict[int, LivenessCheck] = {}  # passed, the grant waiting for the next vote
        # Failed checks per claimed identity, kept across tracks (and resets): stepping out and back in does
        # not start afresh.
        self.attempts = AttemptLimiter()
        self.last_time = 0.0  # the latest frame's time (the clock of the tracks and the attempt limiter)
        self._frame_size: tuple[int, int] | None = None  # (height, width) of the previous frame

    def _holds_identity(self, track: Track) -> bool:
        """The track shows or acts on who its face is: a verdict, a liveness check or its wait."""
        return (self.policy.verdict(track.id)[0] is not Verdict.PENDING or self.policy.confirming(track.id)
                or self.policy.awaiting_liveness(track.id) is not None)

    def _due(self, track: Track, now: float) -> bool:
        if track.face.width < self.settings.min_face_width and not self._holds_identity(track):
            return False  # too far to be recognised (a face that holds an identity is still compared with itself)
        if track.jumped and track.recent_embeddings:
            return True  # the box moved as no face does: is it the same face?
        if self.policy.confirming(track.id):
            return True
        if self.policy.awaiting_liveness(track.id) is not None:
            return track.last_encoded is None or now - track.last_encoded >= self.settings.recheck_during_liveness_s
        verdict, _ = self.policy.verdict(track.id)
        if track.last_encoded is None or verdict is Verdict.PENDING:
            return True
        interval = (self.settings.recheck_granted_s if verdict is Verdict.GRANTED
                    else self.settings.retry_unknown_s)
        return now - track.last_encoded >= interval

    def process(self, frame: Frame, now: float | None = None) -> FrameResult:
        started = time.perf_counter()
        now = frame.time if now is None else now
        image = frame.image
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:  # grey, alpha, 16-bit: made RGB
            colour = image.ndim == 3 and image.shape[2] >= 3
            image = as_rgb8(image[..., 2::-1] if colour else image)  # as_rgb8 takes OpenCV's BGR order
        size = image.shape[:2]
        if self._frame_size is not None and size != self._frame_size:
            # Boxes from a frame of another size mean nothing in this one (the source changed resolution or
            # was replaced): every face starts a new track, and no vote carries over.
            self.reset()
        self._frame_size = size
        if min(size) < 2:  # an empty or degenerate frame: nothing to see, tracks age out as usual
            faces = []
        else:
            faces = self.engine.detect(image, max_side=self.settings.detect_max_side, landmarks=False)
        self.last_time = now
        _, ended = self.tracker.update(faces, now)
        attempts: list[LivenessAttempt] = []
        for track in ended:  # a check on a track that is lost is dropped, never decided
            self._end_track(track, now, attempts)

        visible = [t for t in self.tracker.tracks.values() if t.seen_in_frame]
        due = [t for t in visible if self._due(t, now)]
        # A face to compare with itself first, then new faces, then the longest unchecked.
        due.sort(key=lambda t: (not (t.jumped and t.recent_embeddings),
                                self.policy.verdict(t.id)[0] is not Verdict.PENDING, t.last_encoded or 0.0))
        due = due[: self.settings.max_batch]
        decisions: list[Decision] = []
        snapshots: dict[int, np.ndarray] = {}
        if due:
            self.engine.locate_landmarks(image, [t.face for t in due])
            embeddings = self.engine.embed(image, [t.face for t in due])
            for track, embedding, match in zip(due, embeddings, self.gallery.match_many(embeddings), strict=True):
                track = self._same_face_or_split(track, embedding, now, attempts)
                track.last_encoded, track.encodings = now, track.encodings + 1
                track.distance, track.margin = match.distance, match.margin
                if track.face.width < self.settings.min_face_width:
                    continue  # compared with itself only: a face this far away does not vote
                decision = self.policy.add_vote(track.id, match, now)
                if decision is not None:
                    decisions.append(decision)
                    snapshots[track.id] = face_crop(image, track.box)
                    checked = self.passed_checks.pop(track.id, None)
                    if checked is not None and decision.verdict is Verdict.GRANTED and decision.name is not None:
                        attempts.append(self._attempt(decision.name, AttemptOutcome.GRANTED, track, checked, now))

        visible = [t for t in self.tracker.tracks.values() if t.seen_in_frame]  # after any split
        prompts, meshed = self._run_liveness(image, visible, now, decisions, snapshots, attempts)

        tracks = list(self.tracker.tracks.values())
        views = []
        for track in tracks:
            verdict, name = self.policy.verdict(track.id)
            if verdict is Verdict.GRANTED and track.seen_in_frame:
                self.policy.person_seen(track.id, now)
            status = track.liveness if track.id in self.checks or _waiting(track) else None
            request = status if status is not None and verdict is Verdict.PENDING else None
            views.append(TrackView(
                track.id, track.box, verdict, name, track.distance, track.margin,
                too_far=verdict is Verdict.PENDING and track.face.width < self.settings.min_face_width,
                instruction=request.instruction if request else "", icon=request.icon if request else "",
                countdown=request.remaining_s if request and request.instruction else None,
                waiting=request is not None and request.state is CheckState.WAITING, in_view=track.seen_in_frame,
                refusal=refusal.reason if (refusal := self.policy.refusal(track.id)) is not None else ""))
        seen = {t.id for t in tracks if t.seen_in_frame}
        decisions = [_flag_tailgating(d, views, seen) for d in decisions]
        return FrameResult(frame, views, decisions, snapshots, len(due), time.perf_counter() - started,
                           prompts, meshed, attempts)

    def _end_track(self, track: Track, now: float, attempts: list[LivenessAttempt]) -> None:
        """The track is gone (its face left, or it was another face): its check is dropped, never decided."""
        claimed = self.policy.awaiting_liveness(track.id)
        check = self.checks.pop(track.id, None)
        if check is not None and claimed is not None:
            attempts.append(self._attempt(claimed, AttemptOutcome.WALKED_AWAY, track, check, now))
        self.passed_checks.pop(track.id, None)
        self.policy.forget_track(track.id)

    def _same_face_or_split(self, track: Track, embedding: np.ndarray, now: float,
                            attempts: list[LivenessAttempt]) -> Track:
        """`track` if `embedding` agrees with its recent encodings; else a new track for this face, the old one
        ended. The embedding is kept on the track returned."""
        if track.recent_embeddings and track.distance_to_recent(embedding) > self.settings.same_face_distance:
            self._end_track(track, now, attempts)
            track = self.tracker.split(track, now)
        track.recent_embeddings.append(np.asarray(embedding))
        track.jumped = False
        return track

    def _verified(self, image: np.ndarray, track: Track, now: float, attempts: list[LivenessAttempt]) -> bool:
        """Before a decision made between encodings: is the face in `track` now the one it followed? Encoded here
        when it was not on this frame; if not, the track is split (nothing decided on the old one)."""
        if track.last_encoded == now:
            return True
        embedding = self.engine.embed(image, [track.face])[0]
        same = self._same_face_or_split(track, embedding, now, attempts)
        same.last_encoded = now
        return same is track

    def lockouts(self) -> list[tuple[str, int, float]]:
        """(identity, failed checks, seconds left) of every identity that must wait before its next liveness
        check, at the time of the latest frame. Safe from any thread."""
        return self.attempts.waiting(self.last_time)

    def lift_lockout(self, name: str) -> bool:
        """An administrator lets `name` try again now (their failed checks are forgotten). Safe from any thread;
        True if there was a wait to lift."""
        return self.attempts.lift(name, self.last_time)

    @staticmethod
    def _attempt(person: str, outcome: AttemptOutcome, track: Track, check: LivenessCheck,
                 now: float) -> LivenessAttempt:
        return LivenessAttempt(person, outcome, round(now - track.first_seen, 3), round(now - check.started, 3),
                               check.asked_at is not None, check.cues(now))

    def _run_liveness(self, image, visible: list[Track], now: float, decisions: list, snapshots: dict,
                      attempts: list[LivenessAttempt]):
        """Dense landmarks and liveness cues for the tracks whose identity passed and await liveness."""
        prompts, meshed = [], 0
        for track in visible:
            claimed = self.policy.awaiting_liveness(track.id)
            if claimed is None:
                if _waiting(track):
                    track.liveness = None
                if not self.policy.confirming(track.id):
                    self.checks.pop(track.id, None)  # identity cancelled (or decided): the check goes
                continue
            check = self.checks.get(track.id)
            if check is None:
                wait = self.attempts.wait_left(claimed, now)
                if wait > 0:  # recent failed checks as this person: no new check before the cool-down ends
                    if not _waiting(track):
                        prompts.append(WAIT_INSTRUCTION)
                    track.liveness = LivenessStatus(CheckState.WAITING, WAIT_INSTRUCTION, "", wait)
                    continue
                steps = self.attempts.steps_for(claimed, self.liveness.steps, now)
                # Passive mode reads no cue: none is made (the screen light would be shown for nothing).
                make_cues = self.cue_factory if self.liveness.mode is not LivenessMode.PASSIVE else None
                cues = make_cues(claimed) if make_cues is not None else []
                check = self.checks[track.id] = LivenessCheck(replace(self.liveness, steps=steps), self.rng, now,
                                                              cues)
            if track.face.landmarks is None:
                self.engine.locate_landmarks(image, [track.face])
            status = check.update(self.engine.facemesh.infer(image, track.face), image, now, track.face)
            meshed += 1
            if status.state is CheckState.RUNNING:
                previous = track.liveness
                if status.instruction and (previous is None or previous.instruction != status.instruction):
                    prompts.append(status.instruction)
                track.liveness = status
            elif status.state is CheckState.PASSED:
                self.attempts.record_pass(claimed)
                self.policy.liveness_passed(track.id, now, status.cues)
                track.liveness = None
                self.passed_checks[track.id] = self.checks.pop(track.id)  # the attempt ends at the grant
            else:
                if not self._verified(image, track, now, attempts):
                    continue  # another face took the place: the check on the person who left ends undecided
                failures, alert = self.attempts.record_failure(claimed, now)
                reason = f"liveness check failed: {status.reason}"
                if alert:
                    reason += f"; GUARD ALERT: {failures} failed checks as {claimed} within the hour"
                decisions.append(self.policy.deny(track.id, now, reason, {
                    "liveness": status.cues, "failed_checks": failures, "guard_alert": alert}))
                snapshots[track.id] = face_crop(image, track.box)
                attempts.append(self._attempt(claimed, AttemptOutcome.REFUSED, track, check, now))
                self.checks.pop(track.id, None)
        return prompts, meshed

    def reset(self) -> None:
        """Forget every track (e.g. the source changed)."""
        for track in self.tracker.clear():
            self.policy.forget_track(track.id)
        self.checks.clear()
        self.passed_checks.clear()
