"""The real parts behind the TUI tests: the sandbox gateways (`pos sandbox serve`) and the payment
engine (`pos engine serve`) as real child processes on the profile's loopback ports, started by the
same Supervisor the embedded default uses. Each test gets its own terminal (a fresh terminal id,
activated with a one-time code from the engine's terminal registry) and its own journal file. The sandbox's
control API (payment codes, "the customer pays this QR") is called over loopback HTTP. As in the
embedded default, the supervisor restarts a child that crashed."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from pos_app.api.client import EngineClient
from pos_app.config import Settings
from pos_app.launcher import Supervisor

_terminal_numbers = itertools.count(1)


@dataclass
class ShiftedClock:
    """Wall-clock time plus an offset a test can advance (the till's clock: QR expiry)."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Stack:
    settings: Settings
    supervisor: Supervisor

    @property
    def sandbox_url(self) -> str:
        return f"http://{self.settings.sandbox.listen}"

    @property
    def engine_url(self) -> str:
        return self.settings.terminal.engine_url

    def terminal_settings(self, journal_dir: Path) -> Settings:
        """A new terminal of this store: its own id and journal (the engine is shared)."""
        settings = self.settings.model_copy(deep=True)
        settings.terminal.terminal_id = f"T{next(_terminal_numbers):03d}"
        settings.terminal.journal_path = journal_dir / "journal.sqlite3"
        settings.terminal.terminal_key_file = journal_dir / "terminal.key"
        return settings

    def activation_code(self) -> str:
        """A one-time activation code from the engine's terminal registry."""
        from pos_app.engine.store.terminals import TerminalRegistry

        registry = TerminalRegistry.open(
            self.settings.database_url, self.settings.path(self.settings.engine.ledger_key_file)
        )
        try:
            return registry.new_activation_code(ttl=timedelta(minutes=10))
        finally:
            registry.close()

    async def activated_client(self, settings: Settings) -> EngineClient:
        code = self.activation_code()
        client = EngineClient(self.engine_url, settings.terminal.terminal_id, None)
        await client.activate(code, settings.terminal.store_id, settings.terminal.terminal_id, "Till")
        return client

    async def auth_code(self, channel: str, **extra: Any) -> str:
        async with httpx.AsyncClient(base_url=self.sandbox_url) as http:
            response = await http.post("/sandbox/authcodes", json={"channel": channel, **extra})
        response.raise_for_status()
        return str(response.json()["auth_code"])

    async def pay_qr(self, code_url: str, **extra: Any) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.sandbox_url) as http:
            response = await http.post("/sandbox/pay", json={"qr": code_url, **extra})
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


def start_stack(settings: Settings) -> Iterator[Stack]:
    supervisor = Supervisor(settings.home)
    try:
        sandbox = supervisor.start("sandbox", ["sandbox", "serve"], f"http://{settings.sandbox.listen}/healthz")
        engine = supervisor.start("engine", ["engine", "serve"], settings.terminal.engine_url + "/healthz")
        supervisor.wait_healthy(sandbox)
        supervisor.wait_healthy(engine)
        supervisor.watch()  # as the embedded default does: a crashed child is restarted
        yield Stack(settings, supervisor)
    finally:
        supervisor.stop_all()


async def wait_until(pilot: Any, predicate: Callable[[], bool], timeout: float = 15.0, what: str = "") -> float:
    """Let the app run until ``predicate()`` holds; returns the seconds it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            screen = pilot.app.screen
            raise AssertionError(
                f"timed out waiting for {what or predicate} on {type(screen).__name__}:\n{screen_text(pilot.app)}"
            )
        await pilot.pause(0.02)
    return time.monotonic() - start


def screen_text(app: Any) -> str:
    """Everything the current screen shows, as plain text (Static contents, tables, notifications)."""
    from textual.widgets import DataTable, Static

    parts: list[str] = []
    for widget in app.screen.query(Static):
        rendered = widget.render()
        parts.append(str(getattr(rendered, "plain", rendered)))
    for table in app.screen.query(DataTable):
        for row_key in table.rows:
            parts.append(" ".join(str(c) for c in table.get_row(row_key)))
    for notification in app._notifications:
        parts.append(notification.message)
    return "\n".join(parts)


def qr_drawn(app: Any) -> bool:
    """The current screen shows a payment QR (not the placeholder message)."""
    from pos_app.tui.widgets.qr_view import QrView

    return any(qr.shown for qr in app.screen.query(QrView))


async def settle_picture(pilot: Any, engine_down: bool = True) -> None:
    """Let a snapshot's picture come to rest with the engine down: the engine seen down, the unsent
    count taken now (the health loop of these tests counts once a minute, so the count it last took
    depends on whether it ran before or after the last journal write), no blinking cursor."""
    from textual.widgets import Input

    if engine_down:
        await wait_until(pilot, lambda: pilot.app.engine_online is False, what="the engine seen down")
    pilot.app.unsent = pilot.app.till.unsent_count()
    for entry in pilot.app.screen.query(Input):
        entry.cursor_blink = False  # a blinking cursor would make the picture depend on the moment
    await pilot.pause(0.6)  # the status bar refreshes twice a second


def qr_on_screen(app: Any) -> str:
    """Read the payment QR the current screen draws, as a phone camera would: the QR widget's rendered
    lines (half blocks: foreground = upper module, background = lower) rebuilt as a picture and
    decoded by pyzbar. Fails when no code is drawn or it does not decode."""
    from PIL import Image
    from pyzbar import pyzbar

    from pos_app.tui.widgets.qr_matrix import DARK
    from pos_app.tui.widgets.qr_view import QrView

    [view] = [qr for qr in app.screen.query(QrView) if qr.shown]
    grid: list[list[bool]] = []
    for y in range(view.size.height):
        upper: list[bool] = []
        lower: list[bool] = []
        for segment in view.render_line(y):
            style = segment.style
            for char in segment.text:
                drawn = char == "▀" and style is not None
                upper.append(drawn and style.color is not None and style.color.name == DARK)
                lower.append(drawn and style.bgcolor is not None and style.bgcolor.name == DARK)
        grid += [upper, lower]
    scale = 6
    width = max(len(row) for row in grid)
    picture = Image.new("L", ((width + 8) * scale, (len(grid) + 8) * scale), 255)
    for y, row in enumerate(grid):
        for x, dark in enumerate(row):
            if dark:
                left, top = (x + 4) * scale, (y + 4) * scale
                picture.paste(0, (left, top, left + scale, top + scale))
    decoded = pyzbar.decode(picture)
    assert len(decoded) == 1, f"the screen's QR did not decode ({len(decoded)} symbols)"
    return str(decoded[0].data.decode())
