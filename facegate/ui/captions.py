"""The words under each face on the video. The pipeline returns data (facegate.pipeline.TrackView); the screen
chooses how to say it, here, in one place (no Qt: the tests read the same words the window draws)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from facegate.policy import Verdict

if TYPE_CHECKING:
    from facegate.pipeline import TrackView

WORDS = {
    Verdict.PENDING: "Recognising...",
    Verdict.UNKNOWN: "Unknown",
    Verdict.DENIED: "Not verified - step out and try again",
}
TOO_FAR = "Please come closer"


def caption(view: TrackView) -> str:
    """A liveness request (or the wait after failed checks) with its countdown; else the person's name, or what
    is happening to the face."""
    if view.instruction:
        return f"{view.instruction} ({max(view.countdown or 0.0, 0.0):.0f} s)"
    if view.verdict is Verdict.GRANTED:
        return view.name or ""
    if view.refusal:  # an access rule's words ("This door cannot reach the site server; ...")
        return view.refusal
    if view.too_far:
        return TOO_FAR
    return WORDS[view.verdict]


def plural(count: int, word: str, plural_word: str = "") -> str:
    """ "1 photo", "3 photos"; `plural_word` when adding an s is wrong ("people")."""
    return f"{count} {word}" if count == 1 else f"{count} {plural_word or word + 's'}"
