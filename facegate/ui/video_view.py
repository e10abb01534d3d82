"""The live picture with a box per face and the welcome banner. Draws only what it is given."""

from __future__ import annotations

import math
import time

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from facegate.liveness.screen_light import LightSequence
from facegate.pipeline import TrackView
from facegate.policy import Verdict
from facegate.tracking import iou
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
# "Please come closer" is said only to the largest face in view: a larger face is nearer the kiosk than this one.
LABELLED_WIDTH_FRACTION = 0.6
# A track the detector did not find in this frame is still drawn this long after it was last found (by the frames'
# own times): one missed detection does not make a box blink, and a face that left (a cut, someone walking off)
# leaves no box on the empty picture for the tracker's whole max_age_s (0.7 s). Not drawn at all where a face found
# in this frame overlaps it.
UNSEEN_GRACE_S = 0.25
MAX_MESSAGE_LINES = 4
# The band round the window painted in the screen-light sequence's colour (facegate/liveness/screen_light.py): wide
# enough to light a face at arm's length, as a share of the window's smaller side.
LIGHT_BORDER_FRACTION = 0.12
LIGHT_REPAINT_MS = 8  # repaint at least once per refresh (120 Hz), so each colour is painted on its first frame
ZERO_WIDTH_SPACE = "\u200b"
DIRECT_CHILDREN = Qt.FindChildOption.FindDirectChildrenOnly
DEMONSTRATION = "DEMONSTRATION - not a door"
WRAPPED = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap


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
        self._seen_at: dict[int, float] = {}  # track id -> the frame time its face was last detected
        self._frame_time = -math.inf  # the shown frame's own time (Frame.time)
        self._last_frame_at = 0.0  # wall-clock time of the picture shown
        self.stale = False  # the picture is old: the source is lost, stalled or ended
        # Shown as a mirror (a camera at a desk): the picture and the boxes are flipped; "left" in a request is
        # always the person's own left, so its arrow points to the screen's left here and to its right otherwise.
        self.mirrored = False
        # What the last paint drew, for the window's own checks and the tests: track id -> label rectangle, and
        # the message's box.
        self.labels: dict[int, QRectF] = {}
        self.boxes: dict[int, QRectF] = {}  # track id -> the box drawn (cut to the picture)
        self.arrows: dict[int, str] = {}  # track id -> the screen direction its arrow points
        self.message_rect = QRectF()
        self.prompt_rect = QRectF()
        self.banner_rect = QRectF()
        self.banner_font = QFont(self.font())  # the fonts the banner and the prompt were last drawn in
        self.prompt_font = QFont(self.font())
        # Lines that stay on the picture until the window takes them back (nobody enrolled, speech not working).
        self.notices: list[str] = []
        self.notice_rect = QRectF()
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
        now = result.frame.time
        if now < self._frame_time:  # a file that looped, a new source: the times start again
            self._seen_at = {}
        self._frame_time = now
        current = {t.id for t in result.tracks}
        self._seen_at = {i: at for i, at in self._seen_at.items() if i in current}
        self._seen_at.update((t.id, now) for t in result.tracks if t.in_view)
        found = [t.box for t in result.tracks if t.in_view]
        # An unseen track that a face found in this frame overlaps has been taken over by a new track (a face moving
        # fast): drawn too, it would put two boxes on one face.
        self._tracks = [t for t in result.tracks if t.in_view or (
            now - self._seen_at.get(t.id, -math.inf) <= UNSEEN_GRACE_S and not any(iou(t.box, b) > 0 for b in found))]
        # A liveness request is also shown large at the bottom, for as long as it is pending.
        self.prompt = next((t.instruction for t in self._tracks if t.instruction and not t.waiting), "")
        self.update()

    def set_message(self, text: str) -> None:
        """A line shown over (or instead of) the picture: loading, camera lost, ... Wrapped to the window; the
        whole text is also the tooltip."""
        self.message = text
        self.setToolTip(text)
        self.update()

    def set_notices(self, lines: list[str]) -> None:
        """Lines kept on the picture (small, at the top or the bottom, never over the person at the kiosk) until
        they are set again: what the receptionist must know and would not see elsewhere in kiosk mode."""
        if lines != self.notices:
            self.notices = list(lines)
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
        covered = self._covered()
        self.labels = {}
        if self._image is not None:
            painter.drawImage(target, self._image)
            if self.stale:
                painter.fillRect(target, QColor(0, 0, 0, 170))
            else:
                self._draw_tracks(painter, target, covered)
        # The notices, the prompt and the banner never cover the face being checked (or the person at the kiosk),
        # nor each other.
        face = self._main_face_rect()
        self.prompt_rect = self.banner_rect = self.message_rect = self.notice_rect = QRectF()
        demonstration = self._demonstration_rect() if self.demonstration else QRectF()
        if self.message:
            self._draw_message(painter)
        if self.notices:
            self._draw_notices(painter, [face, self.message_rect, demonstration, *covered])
        if self.prompt and not self.message:
            self._draw_prompt(painter, [face, self.notice_rect, *covered])
        opacity = self._banner_opacity()
        if opacity > 0:
            self._draw_banner(painter, opacity, [face, self.prompt_rect, self.message_rect, self.notice_rect,
                                                 *covered])
        self._draw_light(painter)
        self.demonstration_rect = self._draw_demonstration(painter) if self.demonstration else QRectF()
        painter.end()

    def _covered(self) -> list[QRectF]:
        """Where widgets shown over the picture (the guard alert) hide it: no label or band is put there."""
        return [QRectF(child.geometry()) for child in self.findChildren(QWidget, options=DIRECT_CHILDREN)
                if child.isVisible()]

    def _demonstration_font(self) -> QFont:
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSizeF(max(9.0, self.height() / 40))
        return font

    def _demonstration_rect(self) -> QRectF:
        size = QFontMetrics(self._demonstration_font()).boundingRect(DEMONSTRATION)
        return QRectF(8, 8, size.width() + 20, size.height() + 10)

    def _draw_demonstration(self, painter: QPainter) -> QRectF:
        """DEMONSTRATION in the top left corner, over everything: the people at the desk know this kiosk's decisions
        may come from a recording."""
        painter.setFont(self._demonstration_font())
        text = DEMONSTRATION
        rect = self._demonstration_rect()
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

    def _labelled(self, track: TrackView, widest: float, largest: float) -> bool:
        """Whether a face gets words (else only a thin box: the room behind). A request always; "Please come closer"
        only on the largest face in view (a larger face is nearer the kiosk); other words on faces at least
        LABELLED_WIDTH_FRACTION of the person at the kiosk's width (`widest`)."""
        if track.instruction:
            return True
        if track.too_far:
            return track.box[2] >= largest
        return track.box[2] >= LABELLED_WIDTH_FRACTION * widest

    def _draw_tracks(self, painter: QPainter, target: QRectF, covered: list[QRectF]) -> None:
        assert self._image is not None  # paintEvent draws the tracks only over a picture
        font = QFont(self.font())
        # Readable from 1.5 m on a kiosk screen (about 24 pt at 1080 lines), never tiny in a small window.
        font.setPointSizeF(min(30.0, max(11.0, self.height() / 45)))
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        person = self._person_at_kiosk()
        widest = person.box[2] if person is not None else 0.0
        largest = max((t.box[2] for t in self._tracks), default=0.0)
        labelled = [t for t in self._tracks if self._labelled(t, widest, largest)]
        boxes = {t.id: self.face_rect(t, target) for t in self._tracks}
        # The labels first, the face being checked and the nearer faces before the others: where two would meet,
        # the smaller face goes without words rather than have them written over another face's.
        placed: dict[int, tuple[QRectF, str]] = {}
        for track in sorted(labelled, key=lambda t: (not t.instruction, -t.box[2])):
            caption = captions.caption(track)
            if self.show_distance and track.distance is not None and np.isfinite(track.distance):
                caption += f"  {track.distance:.2f}"
            if not caption:
                continue
            caption = metrics.elidedText(caption, Qt.TextElideMode.ElideRight, int(target.width()) - 12)
            others = [boxes[t.id] for t in labelled if t.id != track.id]
            label = self._place_label(boxes[track.id], metrics.horizontalAdvance(caption) + 12, metrics.height() + 6,
                                      target, [*covered, *(label for label, _ in placed.values())], others)
            if label is not None:
                placed[track.id] = (label, caption)
        self.labels = {track_id: label for track_id, (label, _) in placed.items()}
        self.boxes, self.arrows = {}, {}
        ids = {t.id for t in labelled}
        # The boxes smallest first and the labels last, so that a thin box behind never crosses a label; a box is
        # cut to the picture (a detector's box may reach past the frame's edge).
        for track in sorted(self._tracks, key=lambda t: t.box[2]):
            colour = STATE_COLOURS[track.verdict.value]
            box = self.boxes[track.id] = boxes[track.id].intersected(target)
            painter.save()
            painter.setClipRect(target)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(colour, 3 if track.id in ids else 1))
            painter.drawRect(box)
            painter.restore()
            if track.id in ids and track.icon:
                self.arrows[track.id] = self._draw_icon(painter, track.icon, box, colour)
        for track in labelled:
            if track.id not in placed:
                continue
            label, caption = placed[track.id]
            painter.fillRect(label, STATE_COLOURS[track.verdict.value])
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
    def _place_label(box: QRectF, width: float, height: float, target: QRectF, taken: list[QRectF],
                     faces: list[QRectF]) -> QRectF | None:
        """Under the box, else above it, else a line further; always inside the picture and never over a label
        already placed; over no other labelled face where there is room. None: no room left for it."""
        width = min(max(width, box.width() + 3), target.width())
        left = min(max(box.x() - 1.5, target.left()), target.right() - width)
        candidates = []
        # Further down last: under a panel over the picture's top (the guard alert), a face's words go below it.
        for top in (box.bottom(), box.top() - height, box.bottom() + height, box.top() - 2 * height,
                    box.bottom() + 2 * height, box.bottom() + 3 * height):
            top = min(max(top, target.top()), target.bottom() - height)
            candidates.append(QRectF(left, top, width, height))
        for avoid in (taken + faces, taken):
            free = next((c for c in candidates if not any(c.intersects(other) for other in avoid)), None)
            if free is not None:
                return free
        return None

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

    def _draw_band(self, painter: QPainter, text: str, font: int | QFont, avoid: list[QRectF], top_first: bool,
                   margin: float, fill: QColor, ink: QColor, pad: tuple[int, int] = (30, 12)) -> QRectF:
        """`text` in a full-width band sized from the font's metrics (wrapped if it is still too wide): every line
        fits whole, whatever the font and the window. `font`: a point size to fit the text to (as large as the
        window allows), or the font itself; `pad`: room round the text (sides, top and bottom)."""
        if isinstance(font, QFont):
            painter.setFont(font)
        else:
            self._set_fitting_font(painter, text, font, margin=2 * pad[0])
        inner = max(100, self.width() - 2 * pad[0])
        needed = painter.fontMetrics().boundingRect(0, 0, inner, 100000, int(WRAPPED), text)
        box = self._free_band(needed.height() + 2 * pad[1], avoid, top_first=top_first, margin=margin)
        painter.fillRect(box, fill)
        painter.setPen(ink)
        painter.drawText(box.adjusted(pad[0], pad[1], -pad[0], -pad[1]), WRAPPED, text)
        return box

    def _draw_prompt(self, painter: QPainter, avoid: list[QRectF]) -> None:
        self.prompt_rect = self._draw_band(painter, self.prompt, max(16, self.height() // 24), avoid, top_first=False,
                                           margin=16.0, fill=QColor(255, 176, 0, 230), ink=QColor(0, 0, 0))
        self.prompt_font = QFont(painter.font())

    def _draw_notices(self, painter: QPainter, avoid: list[QRectF]) -> None:
        """The notices in a smaller font, amber on a dark band: something to act on, not an alarm."""
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSizeF(min(18.0, max(11.0, self.height() / 50)))
        self.notice_rect = self._draw_band(painter, "\n".join(self.notices), font, avoid, top_first=True, margin=8.0,
                                           fill=QColor(0, 0, 0, 200), ink=QColor(255, 205, 80), pad=(20, 8))

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
        painter.setOpacity(opacity)
        fill = QColor(198, 40, 40, 235) if self._banner_alert else QColor(20, 140, 70, 225)
        self.banner_rect = self._draw_band(painter, self._banner_text, max(14, self.height() // 16), avoid,
                                           top_first=True, margin=24.0, fill=fill, ink=QColor(255, 255, 255))
        self.banner_font = QFont(painter.font())
        painter.setOpacity(1.0)
