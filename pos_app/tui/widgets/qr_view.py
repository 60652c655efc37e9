"""A QR code drawn in the terminal (half blocks, black on white, 4-module quiet zone)."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from pos_app.tui.logic.qr import QrMatrix, QrTooLarge, make_matrix, render


class QrView(Widget):
    """Shows ``data`` as a QR sized to the widget; the error correction is the strongest that fits."""

    DEFAULT_CSS = """
    QrView { width: auto; height: auto; }
    """

    def __init__(self, data: str, *, max_width: int = 60, max_rows: int = 21, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data = data
        self.matrix: QrMatrix | None = None
        self.error: str | None = None
        try:
            self.matrix = make_matrix(data, max_width=max_width, max_rows=max_rows)
        except QrTooLarge as exc:
            self.error = str(exc)

    def get_content_width(self, container: object, viewport: object) -> int:
        return self.matrix.size if self.matrix else 30

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return self.matrix.rows if self.matrix else 1

    def render(self) -> Text:
        if self.matrix is None:
            return Text(f"QR cannot be drawn here: {self.error}")
        return render(self.matrix)
