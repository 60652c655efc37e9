"""Messages the app sends to its screens."""

from __future__ import annotations

from textual.message import Message

from pos_app.api.schemas import PaymentView


class PaymentUpdated(Message):
    """The engine reported a new state for a payment (event stream or poll)."""

    def __init__(self, view: PaymentView) -> None:
        super().__init__()
        self.view = view
