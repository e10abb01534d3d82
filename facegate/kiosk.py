"""The one assembly of a running kiosk from the settings: the CLI (`facegate run --headless`) and the window both
call it, and differ only in how they show what it says (their `KioskView`).

    open_engine / open_gallery / open_access_log / open_speech      the parts that outlive one session
    assemble_kiosk(settings, engine, gallery, view, ...) -> Kiosk   the session and its listeners, in this order:
        access log (a decision is durable before anything announces it), door and building actions, template
        learner, speech, then the view, then the site link (which forwards what the log holds)

Rules kept here, once: the door's access rules (`access_rules`: what may still refuse a recognised person; at a
site, the offline bound), on one clock; a site kiosk (database_url) needs its access log (the log is the outbox of
the server's copy) and learns nothing (a site's people are the server's: what one door learned would be its own);
its gallery is the replica of the server's people.

`build_session` wires a session without a view or a site: the tests and benchmarks use it directly.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from facegate.access_log import AccessEvent, AccessLog, AttemptRow
from facegate.access_plan import AccessPlan, AccessPlanFile, AccessPlanStore, plan_path_for
from facegate.access_rules import (
    AccessRule,
    AccessRules,
    AntiPassback,
    Clock,
    OfflineBound,
    Passages,
    PlanRule,
    PlanSource,
)
from facegate.actions.listener import ActionsListener, build_actions
from facegate.actions.payload import door_silent_event
from facegate.actions.worker import ActionEvent, ActionHealth
from facegate.camera_trust import SourceTrust, assess_source
from facegate.capture import SourceSpec, parse_source
from facegate.config import Settings
from facegate.errors import FaceGateError
from facegate.gallery import Gallery
from facegate.learning import LearningSettings, LearnOutcome, TemplateLearner
from facegate.liveness import LivenessSettings
from facegate.liveness.cues import PassiveCue
from facegate.liveness.screen_light import LightSequence, ScreenLightCue
from facegate.liveness.texture import TextureCue
from facegate.liveness.whole_face import WholeFaceCue
from facegate.pipeline import CueFactory, FrameResult, Pipeline, PipelineSettings
from facegate.policy import AccessPolicy, Decision, PolicySettings, Verdict
from facegate.session import KioskSession, ReaderFactory, SessionListener
from facegate.site.access import SiteAccessPlan
from facegate.site.admin import SiteGallery
from facegate.site.schema import OFFLINE_SINCE
from facegate.site.sync import DoorAlert, SiteEvent, SiteSync, default_replica_folder
from facegate.speech import SpeechWorker, render_greeting
from facegate.vision.engine import FaceEngine

log = logging.getLogger(__name__)

# Decisions that open a door or alert a guard: committed to the access log before they are announced (at most
# this long a wait). Unknown faces are logged without waiting: nothing is done on them.
ACTED_ON = (Verdict.GRANTED, Verdict.DENIED)
DURABLE_WAIT_S = 2.0
# Speech does not read a liveness request over a greeting said less than this long ago.
PROMPT_AFTER_GREETING_S = 3.0

SITE_NEEDS_LOG = ("A site kiosk keeps its decisions in its local access log until the server has them, and the "
                  "log is not open")


# ------------------------------------------------------------------------------------------------ listeners
class AccessLogListener(SessionListener):
    """Every decision into the access log; a grant or denial is on the disk before later listeners announce it."""

    def __init__(self, access_log: AccessLog, source: str, demonstration: bool = False, trial: bool = False,
                 context: Callable[[], dict] | None = None, clock: Clock = time.time):
        self.access_log = access_log
        self.source = source
        self.clock = clock  # a decision's time in the log: the access rules' clock (a test sets it)
        self.stamp = {"demonstration": True} if demonstration else {}  # a demonstration kiosk's rows say so
        # What the door's circumstances add to each row when it is decided (a site kiosk: since when it has been
        # offline, which the server reads if the decision names someone removed meanwhile).
        self.context = context
        # A liveness trial keeps every attempt (Settings.liveness_trial), written on a thread of its own: the
        # video path never waits for the disk.
        self._trial = ThreadPoolExecutor(1, thread_name_prefix="facegate-trial") if trial else None

    def on_result(self, result: FrameResult) -> None:
        if self._trial is None:
            return
        now = time.time()
        for attempt in result.attempts:
            self._trial.submit(self.access_log.record_attempt, AttemptRow(
                now, attempt.person, attempt.outcome.value, attempt.seconds_to_outcome, attempt.seconds_checking,
                attempt.asked, {**attempt.cues, **self.stamp}))

    def wait_idle(self) -> None:
        if self._trial is not None:
            self._trial.submit(lambda: None).result()

    def stop(self, timeout: float) -> None:
        if self._trial is not None:
            trial, self._trial = self._trial, None  # later results are not a trial's any more
            trial.shutdown(wait=True)

    def on_decision(self, decision: Decision, result: FrameResult) -> None:
        event = AccessEvent(
            time=self.clock(), track_id=decision.track_id, person=decision.name, distance=decision.distance,
            margin=decision.margin, decision=decision.verdict, source=self.source,
            details={"frame": result.frame.index, "greeted": decision.greet, "reason": decision.reason,
                     **decision.details, **self.stamp, **(self.context() if self.context is not None else {})},
            snapshot=result.snapshots.get(decision.track_id))
        if decision.verdict in ACTED_ON:
            # On the disk before anyone hears or sees it (a door opens on it): a crash or power cut right after
            # the greeting cannot leave a grant without its log entry. A log that cannot be written in time is an
            # error in the app's log, and the decision still goes out: a full disk must not lock everyone out.
            self.access_log.record_durably(event, DURABLE_WAIT_S)
        else:
            self.access_log.record(event)


class LearningListener(SessionListener):
    """Offers liveness-checked grants to the template learner (facegate.learning), which runs on its own thread."""

    def __init__(self, learner: TemplateLearner):
        self.learner = learner

    def on_decision(self, decision: Decision, result: FrameResult) -> None:
        if decision.verdict is Verdict.GRANTED and decision.name is not None:
            self.learner.offer(decision.name, result.snapshots.get(decision.track_id), decision.details)

    def wait_idle(self) -> None:
        self.learner.wait_idle()

    def stop(self, timeout: float) -> None:
        self.learner.stop(timeout)


class PassagesListener(SessionListener):
    """Each grant at this door, into the passages anti-passback reads (facegate.access_rules.AntiPassback)."""

    def __init__(self, passages: Passages, door: str, clock: Clock = time.time):
        self.passages = passages
        self.door = door
        self.clock = clock

    def on_decision(self, decision: Decision, result: FrameResult) -> None:
        if decision.verdict is Verdict.GRANTED and decision.name is not None:
            self.passages.record(decision.name, self.door, self.clock())


class SpeechListener(SessionListener):
    """Greets once per visit, says why an access rule refused a recognised person, and speaks liveness requests,
    never over a greeting for someone else."""

    def __init__(self, speech: SpeechWorker, greeting_template: str = "Welcome {name}"):
        self.speech = speech
        self.greeting_template = greeting_template
        self._last_greeting = float("-inf")

    def on_decision(self, decision: Decision, result: FrameResult) -> None:
        if decision.greet and decision.name is not None:  # a greeting grant always names the person
            self._last_greeting = time.monotonic()
            self.speech.say(render_greeting(self.greeting_template, decision.name))
        elif decision.verdict is Verdict.DENIED and decision.details.get("rule"):
            self.speech.say(decision.reason)

    def on_result(self, result: FrameResult) -> None:
        if result.prompts and time.monotonic() - self._last_greeting >= PROMPT_AFTER_GREETING_S:
            for prompt in result.prompts:
                self.speech.say(prompt)


class KioskView(SessionListener):
    """What a face of the app (the window, `run --headless`'s JSON lines) is told, besides a session listener's
    calls. Each is made on the thread that has the news: return quickly."""

    def on_action_health(self, health: ActionHealth) -> None:
        """A door, MQTT or webhook action became slow, went down, or is back (an action's thread)."""

    def on_tailgating(self, alert: ActionEvent) -> None:
        """A face appeared while the door was open for a grant (the pipeline worker)."""

    def on_learned(self, outcome: LearnOutcome) -> None:
        """The template learner decided on a granted face (its own thread)."""

    def on_site_event(self, kind: SiteEvent, payload: dict[str, Any]) -> None:
        """The site link's news: connected, offline, or a person copied or erased here (its thread)."""


# ------------------------------------------------------------------------------------------------ the session
# Starts a colour sequence on the kiosk's screen for a check and returns it (the window's), or None (none shown).
ScreenLight = Callable[[], LightSequence | None]


def liveness_cues(engine: FaceEngine, gallery: Gallery, screen_light: ScreenLight | None = None) -> CueFactory:
    """The passive cues every liveness check on this kiosk runs (issue 28), one of each per check: the texture
    model (a print or a screen), the whole face (the lower face is the claimed person's too: a half mask); with
    `screen_light` (the window, settings.liveness_screen_light), the face's reflection of a colour sequence shown
    for the check."""

    def cues_for(person: str) -> list[PassiveCue]:
        cues: list[PassiveCue] = [TextureCue(engine.pad_model), WholeFaceCue(engine, gallery, person)]
        sequence = screen_light() if screen_light is not None else None
        if sequence is not None:
            cues.append(ScreenLightCue(sequence))
        return cues

    return cues_for


def build_session(settings: Settings, engine: FaceEngine, gallery: Gallery, *, source: str | int | Path | SourceSpec,
                  realtime: bool = True, loop: bool = False, listeners: Sequence[SessionListener] = (),
                  access_log: AccessLog | None = None, speech: SpeechWorker | None = None, learn: bool | None = None,
                  on_learned: Callable[[LearnOutcome], None] | None = None, learner: TemplateLearner | None = None,
                  liveness: LivenessSettings | None = None, rng: random.Random | None = None,
                  reader_factory: ReaderFactory | None = None, actions: bool = True,
                  on_action_health: Callable[[ActionHealth], None] | None = None,
                  on_tailgating: Callable[[ActionEvent], None] | None = None,
                  source_trust: SourceTrust | None = None, screen_light: ScreenLight | None = None,
                  rules: AccessRules | None = None, log_context: Callable[[], dict] | None = None,
                  passages: Passages | None = None) -> KioskSession:
    """A kiosk session wired the one way the app, `run --headless`, the benchmarks and the tests use.

    Listeners hear the session after the built-in ones, in this order: the access log (a decision is durable
    before anything announces it), the door and building actions (a door opens only on a grant already on the
    disk), the template learner, speech. learn: learn from visits (default: settings.learn_from_visits), with a
    TemplateLearner made from the settings that calls on_learned, or with `learner` when given. liveness:
    overrides the settings' liveness (a benchmark says which mode it measures). reader_factory: wraps how frames
    are read (benchmarks letterbox or stack the clip; tests spoil frames). actions: the door pulse, MQTT and
    webhook the settings ask for, refused (FaceGateError) unless the source is a physical camera or the settings
    mark a demonstration; on_action_health and on_tailgating are called on the actions' threads (Kiosk.actions
    finds that listener among the session's). source_trust: the source's assessment, when already made.
    screen_light: the window's colour sequences for the screen-light cue (None: no screen, or not turned on).
    rules: the door's access rules (`access_rules`), whose clock also times the log's rows; log_context: what each
    access log row adds when decided; passages: where this door's grants go for anti-passback."""
    spec = source if isinstance(source, SourceSpec) else parse_source(source)
    if actions:
        require_trusted_source(settings, spec, source_trust)
    # Learned photos count only under the threshold the policy grants at (facegate/learning.py's guarantee).
    gallery.threshold = settings.threshold
    pipeline = Pipeline(engine, gallery, AccessPolicy(PolicySettings.from_settings(settings), rules=rules),
                        PipelineSettings.from_settings(settings),
                        liveness if liveness is not None else LivenessSettings.from_settings(settings), rng,
                        liveness_cues(engine, gallery, screen_light))
    clock = rules.clock if rules is not None else time.time  # every decision's time (item 8 of issue 31)
    built_in: list[SessionListener] = []
    if access_log is not None:
        built_in.append(AccessLogListener(access_log, str(spec), demonstration=settings.demonstration,
                                          trial=settings.liveness_trial, context=log_context, clock=clock))
    if passages is not None:
        built_in.append(PassagesListener(passages, settings.door(), clock))
    if actions:
        action_listener = build_actions(settings, access_log=access_log, on_health=on_action_health,
                                        on_alert=on_tailgating, clock=clock)
        if action_listener is not None:
            built_in.append(action_listener)
    if learner is None and (settings.learn_from_visits if learn is None else learn):
        learner = TemplateLearner(gallery, LearningSettings.from_settings(settings), on_learned)
    if learner is not None:
        built_in.append(LearningListener(learner))
    if speech is not None:
        built_in.append(SpeechListener(speech, settings.greeting_template))
    session = KioskSession(spec, pipeline, listeners=built_in + list(listeners), realtime=realtime, loop=loop,
                           reader_factory=reader_factory)
    return session


# ------------------------------------------------------------------------------------------------ the parts
def open_engine(settings: Settings) -> FaceEngine:
    """The face engine with its models loaded (TensorFlow and the weights: seconds; before the first frame, not
    during it)."""
    engine = FaceEngine(detector=settings.detector)
    engine.load_models()
    return engine


def open_gallery(settings: Settings, engine: FaceEngine, folder: Path | None = None) -> Gallery:
    """The enrolled people: the gallery folder (`folder`, else the settings'); at a site (database_url), the
    replica of the server's people (`folder`, else site-gallery/ in the data folder), whose enroll and remove go
    to the server. Not refreshed yet."""
    gallery = (SiteGallery(folder or default_replica_folder(), engine, settings.database_url) if settings.database_url
               else Gallery(folder or settings.gallery_path(), engine))
    gallery.threshold = settings.threshold  # what learned photos may match under (facegate/learning.py)
    return gallery


def open_access_log(settings: Settings, folder: Path | None = None) -> AccessLog:
    """The access log (`folder`, else the settings'), with its snapshot retention running (purged now, then
    daily, on the log's own thread). FaceGateError when the folder cannot be used."""
    access_log = AccessLog(folder or settings.log_path())
    try:
        apply_retention(access_log, settings)
    except BaseException:
        access_log.close()
        raise
    return access_log


def apply_retention(access_log: AccessLog, settings: Settings) -> None:
    """Snapshots older than the settings' retention go now and then once a day (again after a settings change, so
    that a new retention holds at once)."""
    access_log.keep_snapshots_for(settings.log_retention_days)


def open_speech(settings: Settings) -> SpeechWorker | None:
    """The speech worker, or None when the settings turn speech off."""
    return SpeechWorker(voice=settings.voice or None) if settings.speech else None


def close_parts(access_log: AccessLog | None, speech: SpeechWorker | None) -> None:
    """Close the access log and speech worker that open_access_log and open_speech gave (None: nothing to close)."""
    for part in (access_log, speech):
        if part is not None:
            part.close()


def drives_door(settings: Settings) -> bool:
    """The settings act on a grant: a door relay (door_command, door_serial), MQTT or a webhook (either can open a
    door through Home Assistant or the building's system)."""
    return any(value.strip() for value in (settings.door_command, settings.door_serial, settings.mqtt_url,
                                           settings.webhook_url))


def require_trusted_source(settings: Settings, spec: SourceSpec, trust: SourceTrust | None = None) -> SourceTrust:
    """A kiosk that drives a door sees the room through a physical camera (facegate/camera_trust.py), unless the
    settings mark it as a demonstration. FaceGateError, saying what to do, otherwise. `trust`: the assessment
    already made (the tests pass one read from a copy of a real system's description)."""
    trust = trust or assess_source(spec)
    if drives_door(settings) and not trust.trusted and not settings.demonstration:
        raise FaceGateError(
            f"This kiosk opens a door or tells the building (door, MQTT or webhook settings), so its video must come "
            f"from a physical camera, and {spec} is {trust.describe()}. A file, folder, network stream or virtual "
            "camera can show the kiosk any face, rendered to answer its requests. Connect the kiosk's own camera "
            "and choose it, or, for a demonstration, turn on the 'demonstration' setting (--demonstration): every "
            "log entry, the screen and every message then say DEMONSTRATION.")
    return trust


def require_site_log(settings: Settings, access_log: AccessLog | None) -> None:
    """FaceGateError when the settings name a site server and there is no access log to keep its decisions in.
    assemble_kiosk checks it; `run --headless` checks it before loading the models too, to refuse in a moment."""
    if settings.database_url.strip() and access_log is None:
        raise FaceGateError(f"{SITE_NEEDS_LOG}: give the kiosk a log folder it can write (Settings, or --log-dir "
                            "without --no-log), or run it without a site server.")


# ------------------------------------------------------------------------------------------------ the kiosk
@dataclass
class Kiosk:
    """A session with its site link, and the parts it was assembled with (the caller owns and closes those: the
    window keeps them across restarts for new settings). start() starts the session and the link; stop(final=True)
    also sends the site what the log still holds (at the end of the app; a restart leaves it to the next link)."""

    settings: Settings
    session: KioskSession
    site: SiteSync | None
    access_log: AccessLog | None
    speech: SpeechWorker | None
    plan_file: AccessPlanFile | None = None  # the access plan this door follows
    eraser: ExpiredAccessEraser | None = None  # a single kiosk's erasure of expired people (a site's: the server)

    @property
    def actions(self) -> ActionsListener | None:
        """The door, MQTT and webhook actions the settings asked for (None without any)."""
        return next((listener for listener in self.session.listeners if isinstance(listener, ActionsListener)), None)

    def start(self) -> Kiosk:
        if self.site is not None:
            self.site.start()  # before the first decision: it forwards from the log as they come
        if self.eraser is not None:
            self.eraser.start()
        self.session.start()
        return self

    def stop(self, final: bool = False) -> int:
        """Stop the session: its last frame's decisions reach every listener (the access log, the actions' outboxes),
        then the listeners stop, the site link among them. Returns how many decisions wait for the site server (0
        without a site, or without `final`)."""
        self.session.stop()
        if self.eraser is not None:
            self.eraser.stop()
        if final and self.site is not None:
            return self.site.drain()
        return 0


def access_rules(settings: Settings, site: SiteSync | None, clock: Clock = time.time,
                 plan: PlanSource | None = None, passages: Passages | None = None) -> AccessRules:
    """The door's access rules, asked in this order when a recognised person would be granted (facegate/
    access_rules.py), all on `clock`: at a site, the offline bound (settings.site_offline_grant_s: a door that cannot
    trust its copy says so before anything else); the access plan (`plan`: groups, hours, validity, visitors); with
    `passages`, anti-passback at the plan's "in" doors (not at a greeter, which opens no door)."""
    rules: list[AccessRule] = []
    if site is not None:
        rules.append(OfflineBound(site.offline_since, settings.site_offline_grant_s))
    if plan is not None:
        rules.append(PlanRule(plan, settings.door(), settings.greeter))
        if passages is not None and not settings.greeter:
            rules.append(AntiPassback(plan, settings.door(), passages))
    return AccessRules(rules, clock)


def open_access_plan(gallery: Gallery) -> AccessPlanFile:
    """The access plan a kiosk with this gallery follows: `<gallery>.access.txt` beside it (a site kiosk's replica:
    the copy its site link writes from the server's tables)."""
    return AccessPlanFile(plan_path_for(gallery.folder))


def access_plan_store(settings: Settings, gallery_folder: Path | None = None) -> AccessPlanStore:
    """Where the People dialog, the visitor desk and `facegate access ...` change the access plan: at a site
    (database_url, an admin login), the server's tables; else the file beside the gallery (`gallery_folder`, else
    the settings')."""
    if settings.database_url.strip():
        return SiteAccessPlan(settings.database_url.strip())
    return AccessPlanFile(plan_path_for(gallery_folder or settings.gallery_path()))


def passages_from_log(access_log: AccessLog | None, door: str, now: float, within_s: float) -> Passages:
    """This door's grants of the last `within_s` seconds, from its access log: anti-passback holds across a
    restart."""
    passages = Passages()
    if access_log is not None:
        for row in access_log.recent(limit=None, since=now - within_s):
            if row.decision is Verdict.GRANTED and row.person is not None:
                passages.record(row.person, door, row.time)
    return passages


class ExpiredAccessEraser:
    """Erases the face data (photos, embeddings, learned photos) of people whose access ended longer ago than the
    plan's retention (AccessPlan.due_for_erasure), checked every `every_s` on the rules' clock; their log rows stay.
    A site kiosk leaves this to the server (facegate/site/), which erases them at every door."""

    def __init__(self, plan_file: AccessPlanFile, gallery: Gallery, clock: Clock = time.time, every_s: float = 60.0):
        self.plan_file = plan_file
        self.gallery = gallery
        self.clock = clock
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def erase_due(self) -> list[str]:
        """Erase whoever is due now; returns their names. A failure is logged and tried again next time."""
        erased = []
        for name in self.plan_file.plan().due_for_erasure(self.clock()):
            try:
                if name in self.gallery.people:
                    self.gallery.remove(name)
                self.plan_file.edit(partial(AccessPlan.after_erasure, name=name))
            except (FaceGateError, OSError) as exc:
                log.error("The face data of %s, whose access ended, could not be erased: %s", name, exc)
                continue
            log.info("Erased the face data of %s: their access ended longer ago than the retention", name)
            erased.append(name)
        return erased

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="facegate-expiry", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.erase_due()
            self._stop.wait(self.every_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def offline_context(site: SiteSync) -> Callable[[], dict]:
    """What a site kiosk's log rows add: since when the door has been without the server, while it is."""
    def context() -> dict:
        since = site.offline_since()
        return {} if since is None else {OFFLINE_SINCE: since}
    return context


def assemble_kiosk(settings: Settings, engine: FaceEngine, gallery: Gallery, view: KioskView, *,
                   source: str | int | Path | SourceSpec, access_log: AccessLog | None,
                   speech: SpeechWorker | None, realtime: bool = True, loop: bool = False, learn: bool = True,
                   rng: random.Random | None = None, reader_factory: ReaderFactory | None = None,
                   source_trust: SourceTrust | None = None, screen_light: ScreenLight | None = None,
                   clock: Clock = time.time, plan_file: AccessPlanFile | None = None) -> Kiosk:
    """The kiosk the settings describe, not started yet. `view` hears everything (the window, the JSON lines);
    learn=False turns learning off whatever the settings say (`run --no-learning`). screen_light: how the view shows
    a colour sequence (the window), used when settings.liveness_screen_light and frames come in real time (the
    cue compares the camera's clock with the screen's). clock: the time the access rules and the log read (a test
    sets it). plan_file: the access plan (default: open_access_plan, beside the gallery). FaceGateError (in plain
    words) when it cannot run: a site without its access log, a door, MQTT or webhook setting that cannot work."""
    require_site_log(settings, access_log)
    url = settings.database_url.strip()
    plan_file = plan_file or open_access_plan(gallery)
    passages = passages_from_log(access_log, settings.door(), clock(), plan_file.plan().longest_passback_reset_s)
    site = SiteSync(url, gallery, access_log, settings.door(), on_change=view.on_site_event,
                    silent_after_s=settings.door_silent_after_s, passages=passages,
                    clock=clock) if url and access_log is not None else None
    session = build_session(settings, engine, gallery, source=source, realtime=realtime, loop=loop,
                            listeners=[view] + ([site] if site is not None else []),
                            access_log=access_log, speech=speech,
                            learn=learn and settings.learn_from_visits and site is None,
                            on_learned=view.on_learned, rng=rng, reader_factory=reader_factory,
                            on_action_health=view.on_action_health, on_tailgating=view.on_tailgating,
                            source_trust=source_trust,
                            screen_light=screen_light if settings.liveness_screen_light and realtime else None,
                            rules=access_rules(settings, site, clock, plan_file.plan, passages),
                            log_context=offline_context(site) if site is not None else None, passages=passages)
    eraser = ExpiredAccessEraser(plan_file, gallery, clock) if site is None else None
    kiosk = Kiosk(settings, session, site, access_log, speech, plan_file, eraser)
    if site is not None:
        site.on_door_alert = door_alerts_to_actions(kiosk.actions)
    return kiosk


def door_alerts_to_actions(actions: ActionsListener | None) -> Callable[[DoorAlert], None]:
    """A silent (or returning) door the site link noticed, handed to this kiosk's MQTT and webhook actions (the
    door relay ignores it); each outcome goes into the access log's action outcomes, as a decision's does."""

    def tell(alert: DoorAlert) -> None:
        if actions is None:
            return
        event = door_silent_event(alert.door, alert.silent, alert.last_contact, alert.raised_by, time.time())
        for action in actions.actions:
            action.submit(event)

    return tell
