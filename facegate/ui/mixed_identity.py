"""The question asked before photos that may show someone else are added to a person (People's "Add photos" and
enrollment under an existing name ask the same one): which photos, why, in plain words with the distances."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from facegate.matching import Resemblance
from facegate.policy import PolicySettings
from facegate.ui.captions import plural


def _doubt(resemblance: Resemblance, threshold: float) -> str:
    """Why a photo may not show the person it is added to, in plain words with the distances."""
    name, own = resemblance.name, resemblance.own
    if resemblance.looks_like_someone_else(threshold):
        other = f"{resemblance.other} ({resemblance.other_distance:.2f})"
        if own == float("inf"):
            return f"looks like {other}; {name} has no usable photo to compare it with"
        return f"looks more like {other} than like {name} ({own:.2f})" if own < threshold \
            else f"looks like {other}, not like {name} ({own:.2f})"
    return f"does not look like {name} ({own:.2f})"


def mixed_identity_doubts(compared: list[tuple[Path, Resemblance]], policy: PolicySettings
                          ) -> list[tuple[Path, str]]:
    """The photos that would mix two people if added (file, why in words); `policy`: the PolicySettings."""
    return [(photo, _doubt(resemblance, policy.threshold)) for photo, resemblance in compared
            if resemblance.mixes_identities(policy.threshold, policy.unknown_distance)]


def ask_mixed_identity(parent: QWidget, name: str, doubts: list[tuple[Path, str]], threshold: float) -> bool:
    """Ask whether photos that may show someone else are to be added to `name` anyway; True for Yes. No is the
    default. (People's "Add photos" and enrollment under an existing name ask the same question.)"""
    box = QMessageBox(parent)
    box.setObjectName("confirm_mixed_identity")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("A different person?")
    if len(doubts) == 1:
        photo, doubt = doubts[0]
        box.setText(f"This photo ({photo.name}) {doubt}. Add it to {name} anyway?")
    else:
        lines = "\n".join(f"{photo.name} {doubt}." for photo, doubt in doubts)
        box.setText(f"{plural(len(doubts), 'photo')} may not show {name}:\n{lines}\n\nAdd them to {name} anyway?")
    box.setInformativeText(
        f"The numbers are distances between faces: lower is more alike, and under {threshold:.2f} the kiosk takes "
        f"two faces for the same person. A photo of someone else lets them in as {name}.")
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    yes = box.button(QMessageBox.StandardButton.Yes)
    box.exec()
    box.deleteLater()
    return box.clickedButton() is yes
