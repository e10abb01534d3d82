"""The live picture with a box per face and the welcome banner. Draws only what it is given."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from facegate.policy import Verdict
from facegate.ui import captions

STATE_COLOURS = {
    "granted": QColor(30, 200, 90),
    "pending": QColor(255, 176, 0),
    "unknown": QColor(225, 45, 45),
    "denied": QColor(225, 45, 45),
}
BANNER_SECONDS = 4.0
BANNER_FADE_SECONDS = 1.0


def to_qimage(image_rgb: np.ndarray) -> QImage:
    height, width = image_rgb.shape[:2]
    image = np.ascontiguousarray(image_rgb)
    # .copy(): the QImage must own its pixels; the numpy buffer goes away with the frame.
    return QImage(image.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class VideoView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self._image: QImage | None = None
        self._tracks = []
        self.message = "Starting..."
        self.prompt = ""
        self.show_distance = False
        self._banner_text = ""
        self._banner_alert = False
        self._banner_since = 0.0
        self._banner_timer = QTimer(self)
        self._banner_timer.setInterval(50)
        self._banner_timer.timeout.connect(self._banner_tick)

    # ------------------------------------------------------------------ inputs
    def show_result(self, result) -> None:
        self._image = to_qimage(result.frame.image)
        self._tracks = result.tracks
        # A liveness request is also shown large at the bottom, for as long as it is pending.
        self.prompt = next((t.instruction for t in self._tracks if t.instruction), "")
        self.update()

    def set_message(self, text: str) -> None:
        """A line shown over (or instead of) the picture: loading, camera lost, ..."""
        self.message = text
        self.update()

    def show_banner(self, text: str, alert: bool = False) -> None:
        """A welcome (green) or, with `alert`, a warning for the guard (red)."""
        self._banner_text = text
        self._banner_alert = alert
        self._banner_since = time.monotonic()
        self._banner_timer.start()
        self.update()

    @property
    def banner_text(self) -> str:
        return self._banner_text if self._banner_opacity() > 0 else ""

    @property
    def tracks(self):
        return list(self._tracks)

    def _banner_opacity(self) -> float:
        if not self._banner_text:
            return 0.0
        age = time.monotonic() - self._banner_since
        if age < BANNER_SECONDS - BANNER_FADE_SECONDS:
            return 1.0
        return max(0.0, (BANNER_SECONDS - age) / BANNER_FADE_SECONDS)

    def _banner_tick(self) -> None:
        if self._banner_opacity() <= 0:
            self._banner_timer.stop()
            self._banner_text = ""
        self.update()

    # ------------------------------------------------------------------ drawing
    def _picture_rect(self) -> QRectF:
        if self._image is None:
            return QRectF(self.rect())
        scale = min(self.width() / self._image.width(), self.height() / self._image.height())
        w, h = self._image.width() * scale, self._image.height() * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor(20, 20, 24))
        target = self._picture_rect()
        if self._image is not None:
            painter.drawImage(target, self._image)
            self._draw_tracks(painter, target)
        if self.message:
            self._draw_message(painter)
        elif self.prompt:
            self._draw_prompt(painter)
        opacity = self._banner_opacity()
        if opacity > 0:
            self._draw_banner(painter, opacity)
        painter.end()

    def _draw_tracks(self, painter: QPainter, target: QRectF) -> None:
        assert self._image is not None  # paintEvent draws the tracks only over a picture
        scale = target.width() / self._image.width()
        font = QFont(self.font())
        font.setPointSizeF(max(10.0, 13.0 * min(1.5, max(0.8, scale))))
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        for track in self._tracks:
            colour = STATE_COLOURS[track.verdict.value]
            x, y, w, h = track.box
            box = QRectF(target.x() + x * scale, target.y() + y * scale, w * scale, h * scale)
            painter.setPen(QPen(colour, 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(box)
            if track.icon:
                self._draw_icon(painter, track.icon, box, colour)
            caption = captions.caption(track)
            if self.show_distance and track.distance is not None and np.isfinite(track.distance):
                caption += f"  {track.distance:.2f}"
            if not caption:
                continue
            text_w = metrics.horizontalAdvance(caption) + 12
            label = QRectF(box.x() - 1.5, box.bottom(), max(text_w, box.width() + 3), metrics.height() + 6)
            painter.fillRect(label, colour)
            painter.setPen(QColor(0, 0, 0) if track.verdict is Verdict.PENDING else QColor(255, 255, 255))
            painter.drawText(label, Qt.AlignmentFlag.AlignCenter, caption)

    def _draw_icon(self, painter: QPainter, icon: str, box: QRectF, colour: QColor) -> None:
        """An arrow or an eye above the face box, so the request is understood at a glance."""
        size = max(28.0, min(64.0, box.width() * 0.45))
        centre = QPointF(box.center().x(), box.top() - size * 0.75)
        painter.setPen(QPen(colour, 4))
        painter.setBrush(colour)
        if icon == "eye":
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(centre, size * 0.6, size * 0.32)
            painter.setBrush(colour)
            painter.drawEllipse(centre, size * 0.16, size * 0.16)
            return
        # An arrow pointing left, right (from the person's point of view: the screen's left is their left) or down.
        h, w = size * 0.5, size * 0.6
        shapes = {
            "left": [(-w, 0), (0, -h), (0, -h / 2), (w, -h / 2), (w, h / 2), (0, h / 2), (0, h)],
            "right": [(w, 0), (0, -h), (0, -h / 2), (-w, -h / 2), (-w, h / 2), (0, h / 2), (0, h)],
            "down": [(0, w), (-h, 0), (-h / 2, 0), (-h / 2, -w), (h / 2, -w), (h / 2, 0), (h, 0)],
        }
        points = shapes.get(icon)
        if points:
            painter.drawPolygon(QPolygonF([QPointF(centre.x() + x, centre.y() + y) for x, y in points]))

    def _draw_prompt(self, painter: QPainter) -> None:
        font = QFont(self.font())
        font.setPointSize(max(16, self.height() // 24))
        font.setBold(True)
        painter.setFont(font)
        height = painter.fontMetrics().height() + 24
        box = QRectF(0, self.height() - height - 16, self.width(), height)
        painter.fillRect(box, QColor(255, 176, 0, 230))
        painter.setPen(QColor(0, 0, 0))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self.prompt)

    def _draw_message(self, painter: QPainter) -> None:
        font = QFont(self.font())
        font.setPointSize(16)
        painter.setFont(font)
        box = QRectF(0, self.height() - 60, self.width(), 44)
        painter.fillRect(box, QColor(0, 0, 0, 160))
        painter.setPen(QColor(235, 235, 235))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self.message)

    def _draw_banner(self, painter: QPainter, opacity: float) -> None:
        font = QFont(self.font())
        font.setBold(True)
        size = max(14, self.height() // 16)
        font.setPointSize(size)
        painter.setFont(font)
        while size > 12 and painter.fontMetrics().horizontalAdvance(self._banner_text) > self.width() - 60:
            size -= 2  # long names: shrink to fit rather than cut
            font.setPointSize(size)
            painter.setFont(font)
        height = painter.fontMetrics().height() + 30
        box = QRectF(0, 24, self.width(), height)
        painter.setOpacity(opacity)
        painter.fillRect(box, QColor(198, 40, 40, 235) if self._banner_alert else QColor(20, 140, 70, 225))
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self._banner_text)
        painter.setOpacity(1.0)
