"""The checkout's payment keys as the wallet channels allow them: a refused channel's key greyed."""

from __future__ import annotations

from rich.text import Text

from pos_app.domain.routing import Channel
from pos_app.i18n import N_, _
from pos_app.terminal.channels import ChannelBoard

#: Each wallet channel's QR key, in the order the keys line shows them.
WALLET_KEYS = ((Channel.WECHAT, N_("w WeChat")), (Channel.ALIPAY, N_("a Alipay")))
SCAN_KEY = N_("s scan")
ONE_QR_KEY = N_("q QR (any wallet)")
OTHER_KEYS = N_("c cash · i item · t subject · h history · F1 help")
#: How a key that is refused now looks (still pressed, it says why).
GREYED = "dim strike"


def keys_line(board: ChannelBoard, usual: str) -> Text:
    """``usual`` (the screen's keys) while every wallet channel works; else each key on its own, a
    refused one greyed."""
    if not board.degraded and board.one_qr:
        return Text(usual, no_wrap=True, overflow="ellipsis")
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(_(ONE_QR_KEY), style=GREYED if board.one_qr_refusal() else "")
    text.append(" · ")
    for channel, label in WALLET_KEYS:
        text.append(_(label), style="" if board.offers(channel) else GREYED)
        text.append(" · ")
    text.append(_(SCAN_KEY), style=GREYED if board.scan_refusal() else "")
    text.append(" · " + _(OTHER_KEYS))
    return text
