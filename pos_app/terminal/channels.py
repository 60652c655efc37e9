"""Which wallet channels the till offers now, and why not: the engine's breakers as the cashier sees them.

The engine answers ``GET /v1/channels`` with each channel's circuit breaker; the till asks every few
seconds (and at once after a payment failed, which may be a breaker that just opened), so a key is
greyed before the cashier presses it. An engine that does not answer means no wallet at all: cash
only. The board starts hopeful (nothing known yet, nothing greyed): the engine still refuses a
payment on a failing channel by itself, with the same words.

Polling stays far below the engine's per-terminal rate limit (20/s, 600/min): one request every
``interval_s`` (5 s: 12 a minute) plus one per failed payment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from pos_app.api.schemas import ChannelStatus, ChannelsView
from pos_app.domain.errors import EngineUnavailable, PosError
from pos_app.domain.routing import Channel
from pos_app.i18n import N_, _
from pos_app.terminal.core import TillCore
from pos_app.terminal.deadline import engine_answer

log = logging.getLogger(__name__)

#: The wallet channels a till offers, in the order its keys show them.
WALLETS = (Channel.WECHAT, Channel.ALIPAY)
#: Seconds between two looks at the engine's channels.
CHANNELS_INTERVAL_S = 5.0
#: The longest one look waits for the engine (a slow answer must not hold up the next one for long).
CHANNELS_TIMEOUT_S = 5.0

#: The engine's words for a channel it refuses (``GuardedProvider.unavailable``), for the catalog.
ENGINE_WORDS = (
    N_("WeChat Pay is not answering — use Alipay or cash."),
    N_("Alipay is not answering — use WeChat Pay or cash."),
)
ENGINE_AWAY = N_("Engine unreachable — cash only until it is back.")
NO_WALLET = N_("No wallet channel is answering — take cash.")
#: What the cashier reads when the one code for every wallet cannot be shown (the engine's reason follows).
ONE_QR_FALLBACK = N_("One code unavailable — press W for WeChat, A for Alipay.")


@dataclass(frozen=True, slots=True)
class ChannelBoard:
    """What the till last learned: each wallet channel's breaker, or that the engine is away."""

    #: Channels the engine refuses new payments on, with its English words for the cashier.
    down: dict[Channel, str] = field(default_factory=dict)
    #: The engine did not answer the last look: no wallet payment can be taken.
    engine_away: bool = False
    #: The engine serves one code for every wallet (hopeful until it says otherwise: it refuses a
    #: one_qr order by itself, with its reason, when it cannot serve it).
    one_qr: bool = True
    #: The engine's words when it cannot (already in the till's language).
    one_qr_message: str | None = None

    def refusal(self, channel: Channel) -> str | None:
        """Why a new payment on ``channel`` is refused now, in the till's language; None: offer it."""
        if self.engine_away:
            return _(ENGINE_AWAY)
        return self.breaker_refusal(channel)

    def breaker_refusal(self, channel: Channel) -> str | None:
        """The engine's words when its breaker refuses ``channel`` (whatever the link does now)."""
        words = self.down.get(channel)
        return None if words is None else _(words)

    def offers(self, channel: Channel) -> bool:
        return self.refusal(channel) is None

    def scan_refusal(self) -> str | None:
        """Why scanning a payment code is refused now (no wallet channel answers), or None."""
        if self.engine_away:
            return _(ENGINE_AWAY)
        if all(channel in self.down for channel in WALLETS):
            return _(NO_WALLET)
        return None

    def one_qr_refusal(self) -> str | None:
        """Why the one code for every wallet is not offered now (with what to press instead), or None."""
        if self.engine_away:
            return _(ENGINE_AWAY)
        if self.one_qr:
            return None
        return fallback_words(self.one_qr_message)

    @property
    def degraded(self) -> bool:
        return self.engine_away or bool(self.down)

    def notes(self) -> list[str]:
        """The engine's words for each channel its breaker refuses (the status bar says when the engine
        itself is away)."""
        return [_(self.down[channel]) for channel in WALLETS if channel in self.down]


def fallback_words(reason: str | None) -> str:
    """The one code is refused: say what to press instead, then the engine's reason (if it gave one)."""
    words = _(ONE_QR_FALLBACK)
    return f"{words} {reason}" if reason else words


def board_from(statuses: list[ChannelStatus], view: ChannelsView | None = None) -> ChannelBoard:
    down: dict[Channel, str] = {}
    for status in statuses:
        if status.channel in WALLETS and not status.available:
            # The engine words every refusal; a channel it names without words is still refused.
            down[status.channel] = status.message or f"{status.channel.label} is not answering."
    if view is None:
        return ChannelBoard(down=down)
    return ChannelBoard(down=down, one_qr=view.one_qr, one_qr_message=None if view.one_qr else view.one_qr_message)


class Channels(TillCore):
    """The till's board of wallet channels, kept fresh by :meth:`watch_channels`."""

    channel_board: ChannelBoard
    #: Set to look again at once (a payment failed: perhaps its channel's breaker just opened).
    channels_due: asyncio.Event

    async def check_channels(self) -> ChannelBoard:
        """Ask the engine now; keep what was known if it refuses the question (rate limit, old engine)."""
        try:
            view = await engine_answer(self.client.channels(), CHANNELS_TIMEOUT_S)
        except EngineUnavailable:
            self.channel_board = ChannelBoard(engine_away=True)
        except PosError as exc:
            log.warning("channel states not available: %s", exc.message)
        else:
            self.channel_board = board_from(view.channels, view)
        return self.channel_board

    def recheck_channels(self) -> None:
        """Look again without waiting for the next round (call on the event loop)."""
        self.channels_due.set()

    async def watch_channels(
        self, on_change: Callable[[ChannelBoard, ChannelBoard], None], interval_s: float = CHANNELS_INTERVAL_S
    ) -> None:
        """Keep :attr:`channel_board` fresh forever; ``on_change(before, after)`` when it changes."""
        while True:
            before = self.channel_board
            after = await self.check_channels()
            if after != before:
                on_change(before, after)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.channels_due.wait(), interval_s)
            self.channels_due.clear()
