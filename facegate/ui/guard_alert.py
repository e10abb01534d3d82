"""The guard alert that stays on the picture until someone acknowledges it.

Repeated failed liveness checks as one person (facegate.liveness.attempts) are an attack in progress or a real
person in trouble: either way a guard must see it, and in kiosk mode the status bar is hidden and a banner fades
in seconds. The panel stays over the top of the picture, in both modes, until acknowledged; acknowledging, and
letting the person try again at once (lifting their wait), need the administrator's PIN (the window asks).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

MARGIN = 8


@dataclass(frozen=True)
class GuardAlert:
    person: str  # the identity the failed checks claimed
    failed_checks: int
    time: float  # epoch seconds of the latest failure


def alert_text(alert: GuardAlert) -> str:
    when = time.strftime("%H:%M:%S", time.localtime(alert.time))
    return f"Guard alert {when}: {alert.failed_checks} failed liveness checks as {alert.person}"


class GuardAlertPanel(QFrame):
    """A red panel over the top of its parent (the video view), hidden while there is no alert. One line per
    person with open alerts (the latest count), the buttons under them."""

    acknowledge_requested = Signal()
    lift_requested = Signal(str)  # let this person try again now (their wait is lifted)

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setObjectName("guard_alert")
        self.setStyleSheet("#guard_alert { background: rgba(183, 28, 28, 235); border-radius: 6px; }"
                           "#guard_alert QLabel { color: white; font-weight: bold; }")
        self.alerts: dict[str, GuardAlert] = {}
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.acknowledge = QPushButton("Acknowledge")
        self.acknowledge.setToolTip("Needs the administrator's PIN")
        self.acknowledge.clicked.connect(self.acknowledge_requested)
        self.lift = QPushButton("Let them try again now")
        self.lift.setToolTip("Lifts the wait before the next check; needs the administrator's PIN")
        self.lift.clicked.connect(self._lift_clicked)
        # One row, the text beside the buttons: the panel hides as little of the picture as it can.
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.lift)
        layout.addWidget(self.acknowledge)
        parent.installEventFilter(self)
        self.hide()

    def add(self, alert: GuardAlert) -> None:
        self.alerts[alert.person] = alert
        self._refresh()

    def clear(self) -> list[GuardAlert]:
        """Acknowledged: the panel goes. Returns what was acknowledged."""
        cleared, self.alerts = list(self.alerts.values()), {}
        self._refresh()
        return cleared

    def remove(self, person: str) -> None:
        """`person`'s alert is dealt with (their wait was lifted)."""
        self.alerts.pop(person, None)
        self._refresh()

    def _lift_clicked(self) -> None:
        latest = max(self.alerts.values(), key=lambda a: a.time, default=None)
        if latest is not None:
            self.lift_requested.emit(latest.person)

    def _refresh(self) -> None:
        if not self.alerts:
            self.hide()
            return
        ordered = sorted(self.alerts.values(), key=lambda a: a.time, reverse=True)
        self.text.setText("\n".join(alert_text(a) for a in ordered) + ". Check the person at the door.")
        self.lift.setText(f"Let {ordered[0].person} try again now")
        self._place()
        self.show()
        self.raise_()

    def _place(self) -> None:
        parent = self.parentWidget()
        width = max(200, (parent.width() if parent is not None else 0) - 2 * MARGIN)
        self.setFixedWidth(width)
        self.adjustSize()
        self.move(MARGIN, MARGIN)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize and self.alerts:
            self._place()
        return False
