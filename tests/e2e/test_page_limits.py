"""The customer pages' rate limit behind a proxy, with a real `pos engine serve` on a loopback socket.

With ``[engine] forwarded_allow_ips`` naming the proxy, each phone behind it is counted on its own
(X-Forwarded-For); a header from anyone else is not believed. Without it every phone behind a proxy
would share the proxy's address, and one busy store's customers would use up each other's tries.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

from pos_app.api.auth import decode_key
from pos_app.api.client import EngineClient
from pos_app.api.schemas import CreatePayment
from pos_app.config import load_settings
from pos_app.domain.ids import IdKind, make_trade_no
from pos_app.domain.routing import PaymentMode
from pos_app.sandbox.demo import init_demo_profile
from tests.tui.support import Stack, start_stack

_seq = itertools.count(1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    profile = init_demo_profile(tmp_path_factory.mktemp("page-limits") / "profile")
    text = profile.config.read_text("utf-8")
    limits = '[engine]\nforwarded_allow_ips = "127.0.0.1"\npage_rate_limit = "2/minute"\n'
    profile.config.write_text(text.replace("[engine]\n", limits, 1), "utf-8")
    settings = load_settings(profile.config)
    assert (settings.engine.forwarded_allow_ips, settings.engine.page_rate_limit) == ("127.0.0.1", "2/minute")
    yield from start_stack(settings)


async def _one_qr_result_url(stack: Stack) -> str:
    terminal = stack.settings.terminal
    async with EngineClient(stack.engine_url, terminal.terminal_id, None) as anonymous:
        code = stack.activation_code()
        key = (await anonymous.activate(code, terminal.store_id, terminal.terminal_id, "Till")).terminal_key
    async with EngineClient(stack.engine_url, terminal.terminal_id, decode_key(key)) as client:
        otn = make_trade_no(
            IdKind.PAYMENT, store=terminal.store_id, terminal=terminal.terminal_id, seq=next(_seq), at=datetime.now()
        )
        view = await client.create_payment(
            CreatePayment(out_trade_no=otn, amount_fen=2300, mode=PaymentMode.ONE_QR, subject="Tea", operator="bo")
        )
    assert view.code_url is not None
    return f"{stack.engine_url}{httpx.URL(view.code_url).path}/result?o={otn}&k={'0' * 32}"


def test_phones_behind_the_proxy_are_counted_apart(stack: Stack) -> None:
    url = asyncio.run(_one_qr_result_url(stack))

    def check(forwarded_for: str) -> int:
        answer = httpx.post(url, json={"result": "ok"}, headers={"X-Forwarded-For": forwarded_for}, timeout=10)
        return answer.status_code

    # A forged "check now" is refused (400) twice per phone, then the phone is told to wait (429).
    assert [check("203.0.113.7") for _ in range(3)] == [400, 400, 429]
    assert [check("203.0.113.8") for _ in range(2)] == [400, 400]  # another phone behind the same proxy
    assert check("203.0.113.7, 198.51.100.1") == 400  # the address the proxy saw is the last one
