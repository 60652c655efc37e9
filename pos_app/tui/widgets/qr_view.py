"""A QR code drawn in the terminal (half blocks, black on white, 4-module quiet zone)."""

from __future__ import annotations

import time

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from pos_app.tui.logic.qr import QrMatrix, QrTooLarge, largest_size, make_matrix, segment_rows


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
        #: Set once the whole code has been rendered for the screen (the latency benchmark waits for it).
        self.painted = False
        #: ``time.perf_counter()`` when the code's last row was first rendered (for the latency benchmark).
        self.painted_at: float | None = None

    @property
    def shown(self) -> bool:
        """A code is on this widget (not a message)."""
        return self.matrix is not None

    def show_code(self, data: str) -> None:
        """Draw ``data`` as a QR with the strongest error correction that fits this area."""
        try:
            matrix = make_matrix(data, max_width=self.max_width, max_rows=self.max_rows)
        except QrTooLarge as exc:
            self.show_message(f"QR cannot be drawn here: {exc}")
            return
        self.data, self.matrix = data, matrix
        self._strips = [Strip(row, matrix.size) for row in segment_rows(matrix)]
        self.painted, self.painted_at = False, None
        self.refresh()

    def reset(self, message: str, max_width: int, max_rows: int) -> None:
        """Back to a message, for a new code in an area of (possibly) another size."""
        area = largest_size(max_width, max_rows)
        resized = area != self.area
        self.max_width, self.max_rows, self.area = max_width, max_rows, area
        self.data, self.matrix, self._strips, self.message = None, None, [], message
        self.painted, self.painted_at = False, None
        self.refresh(layout=resized)

    def show_message(self, message: str) -> None:
        """Show ``message`` instead of a code (e.g. once the order is closed: nothing left to scan)."""
        self.data, self.matrix, self._strips, self.message = None, None, [], message
        self.refresh()

    def get_content_width(self, container: object, viewport: object) -> int:
        return self.area

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return (self.area + 1) // 2

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self.matrix is None:
            if y != 0 or not self.message:
                return Strip.blank(width, self.rich_style)
            return Strip([Segment(self.message, self.rich_style + Style(italic=True))]).crop_extend(0, width, None)
        top = (self.size.height - len(self._strips)) // 2
        if y - top == len(self._strips) - 1 and not self.painted:
            # Rows render top to bottom and the frame is written right after: the code is on screen.
            self.painted, self.painted_at = True, time.perf_counter()
        if 0 <= y - top < len(self._strips):
            left = max(0, (width - self.matrix.size) // 2)
            strip = self._strips[y - top]
            return Strip.join([Strip.blank(left, self.rich_style), strip]).crop_extend(0, width, self.rich_style)
        return Strip.blank(width, self.rich_style)
