"""Liveness: is the recognised face a live person in front of the camera, not a photo, a screen or a replay?

A plain RGB webcam sees what a picture cannot do, measured on FaceMesh's dense landmarks:
- the mouth opening from closed. A sheet of paper, flat or bent, turned or tilted however the attacker likes,
  cannot part its printed lips. Tilts that foreshorten the printed face are told apart by the face's own
  proportions (MouthWatch, Mesh.mouth_opening). A print with the mouth cut out, worn over the attacker's face,
  opens the attacker's real mouth, but its printed chin stays put where a real jaw drops: the chin's movement is
  read from the picture itself (JawMotion), since FaceMesh moves its chin landmark with any open mouth.
- blinks (passive mode only): eye closure against this person's own open-eye level. FaceMesh's eye landmarks
  barely follow a real eyelid (a full closure moves the eye ratio by 2-5 % on real clips, where 35 % is needed),
  so a challenge never asks for a blink: a live person would fail it, and a print with the eyes cut out, held
  over the attacker's face, would blink with the attacker's own eyes anyway.
- 3D motion: when a real head turns, the nose, eyes and cheeks move with parallax; a photo or screen held flat,
  however it is moved or tilted, moves as one plane, so its landmarks fit a single homography. The cue is the
  residual of the best homography between the check's first mesh and each later one, in eye distances. A sheet
  bent about one axis and turned shows parallax too: that is why every challenge also asks to open the mouth.
- a challenge: random requests in order, each within a time limit, each answered from a neutral pose: always
  "open your mouth", and at least one head movement (turn slightly left/right, nod).
  Whatever is shown first after a request must be the request: another head movement or an unrequested mouth
  opening fails the check. So a video recorded in advance passes only when its
  actions happen to be the drawn ones in the drawn order: `replay_chance()`.

Modes: "off" (recognition alone), "passive" (a blink and 3D motion while the person just stands there),
"challenge" (the requested actions, plus 3D motion).
"""


from facegate.liveness.attempts import AttemptLimiter, AttemptSettings, chance_per_hour
from facegate.liveness.challenge import (
    HEAD_ACTIONS,
    ICONS,
    INSTRUCTIONS,
    REQUIRED_ACTION,
    Action,
    draw_challenge,
    possible_challenges,
    replay_chance,
)
from facegate.liveness.check import CheckState, LivenessCheck, LivenessStatus
from facegate.liveness.geometry import (
    CHIN_POINTS,
    RIGID_POINTS,
    BlinkCounter,
    JawMotion,
    MouthWatch,
    homography_residual,
)
from facegate.liveness.settings import MAX_STEPS, MIN_STEPS, MODES, LivenessMode, LivenessSettings

__all__ = ["HEAD_ACTIONS", "ICONS", "INSTRUCTIONS", "REQUIRED_ACTION", "MAX_STEPS", "MIN_STEPS", "MODES",
           "CHIN_POINTS", "RIGID_POINTS", "Action", "AttemptLimiter", "AttemptSettings", "BlinkCounter",
           "CheckState", "JawMotion", "LivenessCheck", "LivenessMode", "LivenessSettings", "LivenessStatus",
           "MouthWatch", "chance_per_hour", "draw_challenge", "homography_residual", "possible_challenges",
           "replay_chance"]
