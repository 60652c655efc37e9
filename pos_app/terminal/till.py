"""One terminal's till: every use case on the one object the screens (and headless drivers) hold.

Each use case lives in its own module, as a mixin over :class:`~pos_app.terminal.core.TillCore`:
staff (PINs), sales (wallet payments), settling (what is open), refunds, cash, shifts, reports,
history, receipts, and the link to the engine. Screens call these from workers; nothing here imports
Textual.
"""

from __future__ import annotations

from pos_app.terminal.cash import Cash
from pos_app.terminal.history import History
from pos_app.terminal.link import Link
from pos_app.terminal.reports import Reports
from pos_app.terminal.sales import Sales
from pos_app.terminal.settling import Settling
from pos_app.terminal.shifts import Shifts
from pos_app.terminal.staff import Staff


class Till(Staff, Sales, Settling, Cash, Shifts, Reports, History, Link):
    """One terminal's use cases over its journal (SQLite) and its engine client."""
