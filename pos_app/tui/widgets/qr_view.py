"""A QR code drawn in the terminal (half blocks, black on white, 4-module quiet zone)."""

from __future__ import annotations

import time

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from pos_app.i18n import _
from pos_app.tui.widgets.qr_matrix import QrMatrix, QrTooLarge, largest_size, make_matrix, segment_rows


class QrView(Widget):
    """A fixed area that shows a message until :meth:`show_code` draws a QR in it (centred).

    The area is mounted (and laid out) with its screen, sized for the largest code that fits; the
    code itself arrives later, when the engine answers. Drawing it then repaints this widget only —
    no mount, no layout pass of the screen — from one pre-built strip per text row (Textual's line
    API, no rich Text to lay out cell by cell). This widget sits on the path from the cashier's key
    to the code on screen; building and laying it out after the answer used to cost more than
    everything else the terminal does there.
    """

    DEFAULT_CSS = """
    QrView { width: auto; height: auto; }
    """

    def __init__(self, message: str = "", *, max_width: int = 60, max_rows: int = 21, id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_width = max_width
        self.max_rows = max_rows
        #: The area reserved: the largest code that fits (a smaller one is centred in it).
        self.area = largest_size(max_width, max_rows)
        self.message = message
        self.data: str | None = None
        self.matrix: QrMatrix | None = None
        self._strips: list[Strip] = []
        #: The area's lines as last built, and the size they were built for.
        self._lines: list[Strip] | None = None
        self._lines_size = (0, 0)
        #: ``time.perf_counter()`` when the code's last row was first rendered (for the latency benchmark).
        self.painted_at: float | None = None

    @property
    def shown(self) -> bool:
        """A code is on this widget (not a message)."""
        return self.matrix is not None

    @property
    def painted(self) -> bool:
        """The whole code has been rendered for the screen (the latency benchmark waits for it)."""
        return self.painted_at is not None

    def _show(self, data: str | None, matrix: QrMatrix | None, message: str, *, layout: bool = False) -> None:
        self.data, self.matrix, self.message = data, matrix, message
        self._strips = [Strip(row, matrix.size) for row in segment_rows(matrix)] if matrix else []
        self._lines, self.painted_at = None, None
        self.refresh(layout=layout)

    def show_code(self, data: str) -> None:
        """Draw ``data`` as a QR with the strongest error correction that fits this area."""
        try:
            matrix = make_matrix(data, max_width=self.max_width, max_rows=self.max_rows)
        except QrTooLarge as exc:
            self.show_message(_("QR cannot be drawn here: {error}").format(error=exc))
            return
        self._show(data, matrix, self.message)

    def reset(self, message: str, max_width: int, max_rows: int) -> None:
        """Back to a message, for a new code in an area of (possibly) another size."""
        area = largest_size(max_width, max_rows)
        resized = area != self.area
        self.max_width, self.max_rows, self.area = max_width, max_rows, area
        self._show(None, None, message, layout=resized)

    def show_message(self, message: str) -> None:
        """Show ``message`` instead of a code (e.g. once the order is closed: nothing left to scan)."""
        self._show(None, None, message)

    def get_content_width(self, container: object, viewport: object) -> int:
        return self.area

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return (self.area + 1) // 2

    def notify_style_update(self) -> None:
        self._lines = None  # the theme or the styles changed: rebuild with the new background
        super().notify_style_update()

    def _build_lines(self, width: int, height: int) -> list[Strip]:
        """Every line of the area at this size, built once per code (rich_style is costly to get)."""
        base = self.rich_style
        if self.matrix is None:
            lines = [Strip.blank(width, base) for _row in range(height)]
            if self.message and lines:
                lines[0] = Strip([Segment(self.message, base + Style(italic=True))]).crop_extend(0, width, base)
            return lines
        top = max(0, (height - len(self._strips)) // 2)
        left = Strip.blank(max(0, (width - self.matrix.size) // 2), base)
        lines = [Strip.blank(width, base) for _row in range(height)]
        for row, strip in enumerate(self._strips[: height - top]):
            lines[top + row] = Strip.join([left, strip]).crop_extend(0, width, base)
        return lines

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        if self._lines is None or self._lines_size != (width, height):
            self._lines, self._lines_size = self._build_lines(width, height), (width, height)
        if self.matrix is not None and not self.painted:
            last = max(0, (height - len(self._strips)) // 2) + len(self._strips) - 1
            if y >= min(last, height - 1):
                # Rows render top to bottom and the frame is written right after: the code is on screen.
                self.painted_at = time.perf_counter()
        return self._lines[y] if 0 <= y < len(self._lines) else Strip.blank(width)
