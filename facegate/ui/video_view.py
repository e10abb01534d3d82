"""The live picture with a box per face and the welcome banner. Draws only what it is given."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from facegate.liveness.screen_light import LightSequence
from facegate.pipeline import TrackView
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
# The person at the kiosk is the largest face (of those not Unknown); faces at least this fraction of its width get
# a label too (two people at the desk, a stranger at the desk), smaller ones (the room behind) only a thin box.
LABELLED_WIDTH_FRACTION = 0.6
MAX_MESSAGE_LINES = 4
# The band round the window painted in the screen-light sequence's colour (facegate/liveness/screen_light.py): wide
# enough to light a face at arm's length, as a share of the window's smaller side.
LIGHT_BORDER_FRACTION = 0.12
LIGHT_REPAINT_MS = 8  # repaint at least once per refresh (120 Hz), so each colour is painted on its first frame
ZERO_WIDTH_SPACE = "\u200b"


def to_qimage(image_rgb: np.ndarray) -> QImage:
    height, width = image_rgb.shape[:2]
    image = np.ascontiguousarray(image_rgb)
    # .copy(): the QImage must own its pixels; the numpy buffer goes away with the frame.
    return QImage(image.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class VideoView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self._image: QImage | None = None
        self._tracks: list = []
        self._last_frame_at = 0.0  # wall-clock time of the picture shown
        self.stale = False  # the picture is old: the source is lost, stalled or ended
        # Shown as a mirror (a camera at a desk): the picture and the boxes are flipped; "left" in a request is
        # always the person's own left, so its arrow points to the screen's left here and to its right otherwise.
        self.mirrored = False
        # What the last paint drew, for the window's own checks and the tests: track id -> label rectangle, and
        # the message's box.
        self.labels: dict[int, QRectF] = {}
        self.arrows: dict[int, str] = {}  # track id -> the screen direction its arrow points
        self.message_rect = QRectF()
        self.prompt_rect = QRectF()
        self.banner_rect = QRectF()
        self.message_font = QFont(self.font())
        self.message = "Starting..."
        self.prompt = ""
        self.show_distance = False
        # A demonstration kiosk (its video may be a file or a virtual camera): said in a corner at all times.
        self.demonstration = False
        self.demonstration_rect = QRectF()
        self._banner_text = ""
        self._banner_alert = False
        self._banner_since = 0.0
        self._banner_timer = QTimer(self)
        self._banner_timer.setInterval(50)
        self._banner_timer.timeout.connect(self._banner_tick)
        self._light: LightSequence | None = None
        self.light_colour: QColor | None = None  # what the last paint drew in the light border (None: nothing)
        self.light_rect = QRectF()
        self._light_timer = QTimer(self)
        self._light_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._light_timer.setInterval(LIGHT_REPAINT_MS)
        self._light_timer.timeout.connect(self._light_tick)

    # ------------------------------------------------------------------ inputs
    def show_result(self, result) -> None:
        image = result.frame.image
        self._image = to_qimage(image[:, ::-1] if self.mirrored else image)
        self._last_frame_at = time.time()
        self.stale = False
        self._tracks = result.tracks
        # A liveness request is also shown large at the bottom, for as long as it is pending.
        self.prompt = next((t.instruction for t in self._tracks if t.instruction and not t.waiting), "")
        self.update()

    def set_message(self, text: str) -> None:
        """A line shown over (or instead of) the picture: loading, camera lost, ... Wrapped to the window; the
        whole text is also the tooltip."""
        self.message = text
        self.setToolTip(text)
        self.update()

    def mark_stale(self, reason: str) -> None:
        """The source is lost, stalled or ended: the boxes and names go at once (a guard must never read an old
        green box as "he is here"), the last picture stays dimmed with the time it was taken."""
        self.stale = True
        self._tracks = []
        self.prompt = ""
        when = time.strftime("%H:%M:%S", time.localtime(self._last_frame_at)) if self._image is not None else ""
        self.set_message(f"{reason} (the picture is from {when})" if when else reason)

    def show_banner(self, text: str, alert: bool = False) -> None:
        """A welcome (green) or, with `alert`, a warning for the guard (red)."""
        self._banner_text = text
        self._banner_alert = alert
        self._banner_since = time.monotonic()
        self._banner_timer.start()
        self.update()

    def show_light(self, sequence: LightSequence | None) -> None:
        """Paint a band round the picture in the current colour of `sequence` (screen-light liveness) until it
        ends, starting it now if nobody has; report to it when each colour is first painted (Qt's paint time, the
        nearest this side of the panel gets to when the light left the screen). None stops it."""
        self._light = sequence
        if sequence is None:
            self._light_timer.stop()
        else:
            if sequence.started_at is None:
                sequence.start(time.monotonic())
            self._light_timer.start()
        self.update()

    def _light_tick(self) -> None:
        end = self._light.end if self._light is not None else None
        if end is None or time.monotonic() > end + 0.1:
            self._light = None
            self._light_timer.stop()
        self.update()

    def _draw_light(self, painter: QPainter) -> None:
        """The band round the window in the sequence's colour now (nothing outside the sequence)."""
        self.light_colour, self.light_rect = None, QRectF()
        sequence = self._light
        if sequence is None:
            return
        now = time.monotonic()
        index = sequence.index_at(now)
        if index is None:
            return
        red, green, blue = sequence.colours[index].display_rgb
        colour = QColor(red, green, blue)
        band = max(8.0, LIGHT_BORDER_FRACTION * min(self.width(), self.height()))
        outer = QRectF(self.rect())
        painter.save()
        painter.setPen(QPen(colour, band, Qt.PenStyle.SolidLine, Qt.PenCapStyle.SquareCap,
                            Qt.PenJoinStyle.MiterJoin))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(outer.adjusted(band / 2, band / 2, -band / 2, -band / 2))
        painter.restore()
        self.light_colour, self.light_rect = colour, outer
        sequence.shown(index, now)

    @property
    def banner_text(self) -> str:
        return self._banner_text if self._banner_opacity() > 0 else ""

    @property
    def tracks(self) -> list[TrackView]:
        return list(self._tracks)

    @property
    def last_frame_at(self) -> float:
        return self._last_frame_at

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
        self.labels = {}
        if self._image is not None:
            painter.drawImage(target, self._image)
            if self.stale:
                painter.fillRect(target, QColor(0, 0, 0, 170))
            else:
                self._draw_tracks(painter, target)
        # The prompt and the banner never cover the face being checked (or the person at the kiosk).
        face = self._main_face_rect()
        self.prompt_rect = self.banner_rect = self.message_rect = QRectF()
        if self.message:
            self._draw_message(painter)
        elif self.prompt:
            self._draw_prompt(painter, face)
        opacity = self._banner_opacity()
        if opacity > 0:
            self._draw_banner(painter, opacity, [face, self.prompt_rect, self.message_rect])
        self._draw_light(painter)
        self.demonstration_rect = self._draw_demonstration(painter) if self.demonstration else QRectF()
        painter.end()

    def _draw_demonstration(self, painter: QPainter) -> QRectF:
        """DEMONSTRATION in the top left corner, over everything: the people at the desk know this kiosk's decisions
        may come from a recording."""
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSizeF(max(9.0, self.height() / 40))
        painter.setFont(font)
        text = "DEMONSTRATION - not a door"
        size = painter.fontMetrics().boundingRect(text)
        rect = QRectF(8, 8, size.width() + 20, size.height() + 10)
        painter.fillRect(rect, QColor(150, 20, 140, 220))
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        return rect

    def _person_at_kiosk(self) -> TrackView | None:
        """The largest face the kiosk is recognising, checking or has let in (a large false detection on the wall
        behind is Unknown and must not take their place); else the largest face; None without faces."""
        known = [t for t in self._tracks if t.verdict is not Verdict.UNKNOWN] or self._tracks
        return max(known, key=lambda t: t.box[2], default=None)

    def _main_face_rect(self) -> QRectF:
        """The face the prompt and the banner must not cover: the one being checked, else the person at the kiosk."""
        if self._image is None or self.stale:
            return QRectF()
        main = next((t for t in self._tracks if t.instruction), None) or self._person_at_kiosk()
        return self.face_rect(main) if main is not None else QRectF()

    def _free_band(self, height: float, avoid: list[QRectF], top_first: bool, margin: float = 16.0) -> QRectF:
        """A full-width band `height` high, at the top or the bottom or next to what is already there, that covers
        nothing in `avoid` (the face being checked, the prompt); the preferred end when nothing is free."""
        width = self.width()
        ends = [QRectF(0, margin, width, height), QRectF(0, self.height() - height - margin, width, height)]
        if not top_first:
            ends.reverse()
        candidates = list(ends)
        for other in avoid:  # just below or just above a band already drawn
            candidates += [QRectF(0, other.bottom() + 8, width, height),
                           QRectF(0, other.top() - height - 8, width, height)]
        inside = [c for c in candidates if c.top() >= 0 and c.bottom() <= self.height()]
        return next((c for c in inside if not any(c.intersects(a) for a in avoid if not a.isEmpty())), ends[0])

    def _draw_tracks(self, painter: QPainter, target: QRectF) -> None:
        assert self._image is not None  # paintEvent draws the tracks only over a picture
        font = QFont(self.font())
        # Readable from 1.5 m on a kiosk screen (about 24 pt at 1080 lines), never tiny in a small window.
        font.setPointSizeF(min(30.0, max(11.0, self.height() / 45)))
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        person = self._person_at_kiosk()
        widest = person.box[2] if person is not None else 0.0
        labels: list[QRectF] = []
        self.labels, self.arrows = {}, {}
        # The labelled faces last, so that a thin box behind never crosses a label.
        for track in sorted(self._tracks, key=lambda t: t.box[2]):
            colour = STATE_COLOURS[track.verdict.value]
            box = self.face_rect(track, target)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            # "Please come closer" is for the person at the kiosk, not for every small face in the room.
            background = track.box[2] < LABELLED_WIDTH_FRACTION * widest or (track.too_far and track.box[2] < widest)
            if background and not track.instruction:
                painter.setPen(QPen(colour, 1))  # the room behind: seen, not labelled
                painter.drawRect(box)
                continue
            painter.setPen(QPen(colour, 3))
            painter.drawRect(box)
            if track.icon:
                self.arrows[track.id] = self._draw_icon(painter, track.icon, box, colour)
            caption = captions.caption(track)
            if self.show_distance and track.distance is not None and np.isfinite(track.distance):
                caption += f"  {track.distance:.2f}"
            if not caption:
                continue
            caption = metrics.elidedText(caption, Qt.TextElideMode.ElideRight, int(target.width()) - 12)
            label = self._place_label(box, metrics.horizontalAdvance(caption) + 12, metrics.height() + 6, target,
                                      labels)
            labels.append(label)
            self.labels[track.id] = label
            painter.fillRect(label, colour)
            painter.setPen(QColor(0, 0, 0) if track.verdict is Verdict.PENDING else QColor(255, 255, 255))
            painter.drawText(label, Qt.AlignmentFlag.AlignCenter, caption)

    def face_rect(self, track, target: QRectF | None = None) -> QRectF:
        """Where a track's face is on the widget (mirrored with the picture)."""
        assert self._image is not None
        target = target if target is not None else self._picture_rect()
        scale = target.width() / self._image.width()
        x, y, w, h = track.box
        if self.mirrored:
            x = self._image.width() - x - w
        return QRectF(target.x() + x * scale, target.y() + y * scale, w * scale, h * scale)

    @staticmethod
    def _place_label(box: QRectF, width: float, height: float, target: QRectF, taken: list[QRectF]) -> QRectF:
        """Under the box, else above it; always inside the picture, and not over a label already drawn."""
        width = min(max(width, box.width() + 3), target.width())
        left = min(max(box.x() - 1.5, target.left()), target.right() - width)
        for top in (box.bottom(), box.top() - height, box.bottom() + height, box.top() - 2 * height):
            top = min(max(top, target.top()), target.bottom() - height)
            label = QRectF(left, top, width, height)
            if not any(label.intersects(other) for other in taken):
                return label
        return label

    def _draw_icon(self, painter: QPainter, icon: str, box: QRectF, colour: QColor) -> str:
        """An arrow, an eye or an open mouth above the face box, so the request is understood at a glance; returns
        what was drawn (for an arrow, the screen direction it points)."""
        size = max(28.0, min(64.0, box.width() * 0.45))
        # above the box; for a face at the top of the picture, on it rather than off the screen
        centre = QPointF(box.center().x(), max(box.top() - size * 0.75, size * 0.65))
        painter.setPen(QPen(colour, 4))
        painter.setBrush(colour)
        if icon == "eye":
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(centre, size * 0.6, size * 0.32)
            painter.setBrush(colour)
            painter.drawEllipse(centre, size * 0.16, size * 0.16)
            return icon
        if icon == "mouth":  # lips parted: thick lips round a dark opening (the eye has a coloured pupil instead)
            painter.setPen(QPen(colour, max(5.0, size * 0.14)))
            painter.setBrush(QColor(20, 20, 20))
            painter.drawEllipse(centre, size * 0.5, size * 0.36)
            return icon
        # An arrow to the person's left or right (the screen's left when the picture is a mirror, else its
        # right), or down.
        if icon in ("left", "right") and not self.mirrored:
            icon = "right" if icon == "left" else "left"
        h, w = size * 0.5, size * 0.6
        shapes = {
            "left": [(-w, 0), (0, -h), (0, -h / 2), (w, -h / 2), (w, h / 2), (0, h / 2), (0, h)],
            "right": [(w, 0), (0, -h), (0, -h / 2), (-w, -h / 2), (-w, h / 2), (0, h / 2), (0, h)],
            "down": [(0, w), (-h, 0), (-h / 2, 0), (-h / 2, -w), (h / 2, -w), (h / 2, 0), (h, 0)],
        }
        points = shapes.get(icon)
        if points:
            painter.drawPolygon(QPolygonF([QPointF(centre.x() + x, centre.y() + y) for x, y in points]))
        return icon

    def _set_fitting_font(self, painter: QPainter, text: str, size: int, margin: int) -> None:
        """A bold font of `size` points, made smaller (down to 12) until `text` fits the width less `margin`: a
        long name or request on a narrow window shrinks rather than being cut."""
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSize(size)
        painter.setFont(font)
        while size > 12 and painter.fontMetrics().horizontalAdvance(text) > self.width() - margin:
            size -= 2
            font.setPointSize(size)
            painter.setFont(font)

    def _draw_prompt(self, painter: QPainter, face: QRectF) -> None:
        self._set_fitting_font(painter, self.prompt, max(16, self.height() // 24), margin=40)
        height = painter.fontMetrics().height() + 24
        box = self.prompt_rect = self._free_band(height, [face], top_first=False)
        painter.fillRect(box, QColor(255, 176, 0, 230))
        painter.setPen(QColor(0, 0, 0))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self.prompt)

    def _draw_message(self, painter: QPainter) -> None:
        """The message wrapped to the window (paths may break after a slash), in a smaller font when it would take
        more than MAX_MESSAGE_LINES lines; never cut (the whole text is also the tooltip)."""
        text = self.message
        for separator in ("/", "\\"):
            text = text.replace(separator, separator + ZERO_WIDTH_SPACE)
        flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
        width = max(100, self.width() - 40)
        font = QFont(self.font())
        for size in (16, 14, 12, 11):
            font.setPointSize(size)
            metrics = QFontMetrics(font)
            needed = metrics.boundingRect(0, 0, width, 100000, int(flags), text).height()
            if needed <= MAX_MESSAGE_LINES * metrics.lineSpacing():
                break
        painter.setFont(font)
        self.message_font = QFont(font)
        height = min(needed, self.height() - 32) + 16
        box = QRectF(0, self.height() - height - 16, self.width(), height)
        painter.fillRect(box, QColor(0, 0, 0, 170))
        painter.setPen(QColor(235, 235, 235))
        self.message_rect = box.adjusted(20, 8, -20, -8)
        painter.drawText(self.message_rect, flags, text)

    def _draw_banner(self, painter: QPainter, opacity: float, avoid: list[QRectF]) -> None:
        self._set_fitting_font(painter, self._banner_text, max(14, self.height() // 16), margin=60)
        height = painter.fontMetrics().height() + 30
        box = self.banner_rect = self._free_band(height, avoid, top_first=True, margin=24.0)
        painter.setOpacity(opacity)
        painter.fillRect(box, QColor(198, 40, 40, 235) if self._banner_alert else QColor(20, 140, 70, 225))
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self._banner_text)
        painter.setOpacity(1.0)
