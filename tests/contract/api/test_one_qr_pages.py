"""One-QR and store-QR pages: the real engine app and the real sandbox (OAuth, JSAPI prepay,
alipay.system.oauth.token, alipay.trade.create, the bridge checks), a phone played step by step with
httpx. The bridge's paySign is checked here independently with the merchant's public key."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from api_support import STORE, TERMINAL, Stack

from pos_app.api.client import EngineClient
from pos_app.api.schemas import CancelPayment, CreatePayment, PaymentView
from pos_app.domain.errors import InputError
from pos_app.domain.ids import IdKind, make_trade_no
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.engine.crypto.keys import load_public_key
from pos_app.engine.crypto.rsa import verify_sha256_rsa

WECHAT_UA = "Mozilla/5.0 (iPhone) Mobile/15E148 MicroMessenger/8.0.50 NetType/WIFI Language/zh_CN"
ALIPAY_UA = "Mozilla/5.0 (iPhone) AliApp(AP/10.5.88) AlipayClient/10.5.88 Language/zh-Hans"
PLAIN_UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120"
USER_HEADER = "x-sandbox-user"
_seq = itertools.count(1)
_BRIDGE = re.compile(r'<script type="application/json" id="pos-bridge">(.*?)</script>', re.S)


def one_qr(amount_fen: int = 2300) -> CreatePayment:
    otn = make_trade_no(IdKind.PAYMENT, store=STORE, terminal=TERMINAL, seq=next(_seq), at=datetime.now())
    return CreatePayment(
        out_trade_no=otn, amount_fen=amount_fen, mode=PaymentMode.ONE_QR, subject="Noodles", operator="alice"
    )


@dataclass
class Phone:
    """A customer's phone: a wallet browser (its User-Agent) on the engine's pages and the wallet's
    own sign-in pages (the sandbox, which learns the simulated user from a header only it reads)."""

    stack: Stack
    app: str
    user: str = "demo-user"

    def _engine(self) -> httpx.AsyncClient:
        ua = WECHAT_UA if self.app == "wechat" else ALIPAY_UA
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(self.stack.engine),
            headers={"User-Agent": ua, "Accept-Language": "zh-CN,zh;q=0.9"},
        )

    async def open(self, url: str) -> httpx.Response:
        """Scan: the engine sends the phone to sign in, the wallet sends it back, the engine answers."""
        async with self._engine() as engine:
            first = await engine.get(url)
            assert first.status_code == 302, first.text
            authorize = first.headers["location"].split("#")[0]  # browsers never send the fragment
            back = await self.stack.sandbox_http.get(authorize, headers={USER_HEADER: self.user})
            assert back.status_code == 302, back.text
            return await engine.get(back.headers["location"])

    async def post_form(self, page: httpx.Response, amount: str) -> httpx.Response:
        action = re.search(r'<form id="pos-amount" method="post" action="([^"]+)"', page.text)
        assert action is not None, page.text
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
        async with self._engine() as engine:
            return await engine.post(str(page.url.join(action.group(1))), data={**fields, "amount": amount})

    async def bridge(self, page: httpx.Response, choice: str = "pay") -> tuple[dict[str, Any], dict[str, Any]]:
        """Hand the page's bridge data to the wallet (the sandbox's bridge check), then tell the page's
        result URL what the wallet said; returns (bridge data, the engine's answer)."""
        found = _BRIDGE.search(page.text)
        assert found is not None, page.text
        data: dict[str, Any] = json.loads(found.group(1))
        if self.app == "wechat":
            body = {"page_url": str(page.url), "pay": data["pay"], "user": self.user, "choice": choice}
            wallet = (await self.stack.sandbox_http.post("/sandbox/bridge/wechat", json=body)).json()
            said = {"get_brand_wcpay_request:ok": "ok", "get_brand_wcpay_request:cancel": "cancel"}.get(
                wallet["err_msg"], "fail"
            )
        else:
            body = {"tradeNO": data["tradeNO"], "user": self.user, "choice": choice, "page_url": str(page.url)}
            wallet = (await self.stack.sandbox_http.post("/sandbox/bridge/alipay", json=body)).json()
            said = {"9000": "ok", "6001": "cancel"}.get(wallet["result_code"], "fail")
        async with self._engine() as engine:
            answer = await engine.post(data["result_url"], json={"result": said})
        assert answer.status_code == 200, answer.text
        return data, answer.json()


async def wait_for(client: EngineClient, otn: str, states: set[PaymentState], timeout: float = 20) -> PaymentView:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        view = await client.get_payment(otn)
        if view.state in states:
            return view
        assert asyncio.get_running_loop().time() < deadline, f"{otn} still {view.state}"
        await asyncio.sleep(0.1)


async def test_channels_say_one_qr_is_served(client: EngineClient) -> None:
    channels = await client.channels()
    assert channels.one_qr is True and channels.one_qr_message is None


async def test_one_qr_in_wechat_pays_with_a_verifiable_pay_sign(stack: Stack, client: EngineClient) -> None:
    view = await client.create_payment(one_qr(2300))
    assert view.channel is None and view.state is PaymentState.AWAITING_SCAN
    assert view.code_url is not None and view.code_url.startswith(stack.settings.engine.public_url + "/q/")
    assert view.expires_at is not None

    page = await Phone(stack, "wechat").open(view.code_url)
    assert page.status_code == 200
    assert (
        page.headers["cache-control"] == "no-store" and "script-src 'self'" in page.headers["content-security-policy"]
    )
    assert page.headers["x-frame-options"] == "DENY"
    opened = await client.get_payment(view.out_trade_no)
    assert opened.channel is Channel.WECHAT  # the till can say "opened in WeChat"

    data, answer = await Phone(stack, "wechat").bridge(page)
    pay = data["pay"]
    assert data["app"] == "wechat" and pay["signType"] == "RSA" and pay["package"].startswith("prepay_id=")
    assert pay["appId"] == stack.settings.wechatpay.appid and len(pay["timeStamp"]) == 10
    merchant = load_public_key(stack.settings.path(Path("sandbox-keys/wechat_merchant_pub.pem")))
    message = f"{pay['appId']}\n{pay['timeStamp']}\n{pay['nonceStr']}\n{pay['package']}\n".encode()
    verify_sha256_rsa(merchant, message, pay["paySign"])
    assert answer["state"] == "PAID"
    assert (await wait_for(client, view.out_trade_no, {PaymentState.PAID})).amount_fen == 2300
    secret = stack.settings.path(stack.settings.wechatpay.oauth_secret_file or Path("x")).read_text().strip()
    assert secret not in page.text


async def test_one_qr_in_alipay_pays(stack: Stack, client: EngineClient) -> None:
    view = await client.create_payment(one_qr(1500))
    assert view.code_url is not None
    page = await Phone(stack, "alipay").open(view.code_url)
    assert page.status_code == 200, page.text
    data, answer = await Phone(stack, "alipay").bridge(page)
    assert data["app"] == "alipay" and data["tradeNO"]
    assert answer["state"] == "PAID"
    final = await wait_for(client, view.out_trade_no, {PaymentState.PAID})
    assert final.channel is Channel.ALIPAY


async def test_cancel_on_the_phone_is_not_believed_as_paid_and_the_page_can_be_reopened(
    stack: Stack, client: EngineClient
) -> None:
    view = await client.create_payment(one_qr())
    assert view.code_url is not None
    phone = Phone(stack, "wechat")
    _data, answer = await phone.bridge(await phone.open(view.code_url), choice="cancel")
    assert answer["state"] == "AWAITING_SCAN" and answer["message"]
    # The same customer scans again: the same order, paid this time.
    _data, answer = await phone.bridge(await phone.open(view.code_url))
    assert answer["state"] == "PAID"


async def test_a_second_wallet_or_customer_gets_a_clear_page(stack: Stack, client: EngineClient) -> None:
    view = await client.create_payment(one_qr())
    assert view.code_url is not None
    await Phone(stack, "wechat").open(view.code_url)
    other_wallet = await Phone(stack, "alipay").open(view.code_url)
    assert other_wallet.status_code == 409 and "另一个钱包" in other_wallet.text  # the phone asks for Chinese
    other_customer = await Phone(stack, "wechat", user="someone-else").open(view.code_url)
    assert other_customer.status_code == 409
    assert (await client.get_payment(view.out_trade_no)).channel is Channel.WECHAT


async def test_plain_browser_gets_the_open_with_a_wallet_page_in_its_language(
    stack: Stack, client: EngineClient
) -> None:
    view = await client.create_payment(one_qr())
    assert view.code_url is not None
    async with httpx.AsyncClient(transport=httpx.ASGITransport(stack.engine)) as browser:
        english = await browser.get(view.code_url, headers={"User-Agent": PLAIN_UA, "Accept-Language": "en-GB"})
    assert english.status_code == 200 and "WeChat or Alipay" in english.text
    assert (await client.get_payment(view.out_trade_no)).channel is None


async def test_bad_state_wrong_token_and_forged_result_are_refused(stack: Stack, client: EngineClient) -> None:
    view = await client.create_payment(one_qr())
    assert view.code_url is not None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(stack.engine), headers={"User-Agent": WECHAT_UA}
    ) as phone:
        first = await phone.get(view.code_url)
        state = parse_qs(urlsplit(first.headers["location"]).query)["state"][0]
        forged = state[:-1] + ("0" if state[-1] != "0" else "1")
        bad = await phone.get(f"{view.code_url}/wechat", params={"code": "abc", "state": forged})
        assert bad.status_code == 400
        unknown = await phone.get(view.code_url.rsplit("/", 1)[0] + "/" + "Z" * 32)
        assert unknown.status_code == 404
        result = await phone.post(f"{view.code_url}/result?o={view.out_trade_no}&k={'0' * 32}", json={"result": "ok"})
        assert result.status_code == 400
    after = await client.get_payment(view.out_trade_no)
    assert after.channel is None and after.state is PaymentState.AWAITING_SCAN


async def test_cancel_before_any_wallet_opened_closes_locally(stack: Stack, client: EngineClient) -> None:
    view = await client.create_payment(one_qr())
    cancelled = await client.cancel_payment(view.out_trade_no, CancelPayment(operator="alice", reason="changed mind"))
    assert cancelled.state is PaymentState.CLOSED and cancelled.channel is None
    assert view.code_url is not None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(stack.engine), headers={"User-Agent": WECHAT_UA}
    ) as phone:
        assert (await phone.get(view.code_url)).status_code == 302  # signs in, then the order is over
    page = await Phone(stack, "wechat").open(view.code_url)
    assert page.status_code == 409


async def test_store_code_two_payments_with_typed_amounts(stack: Stack, client: EngineClient) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    code = await client.store_code()
    assert (await client.store_code()).url == code.url  # the same printed code every time
    phone = Phone(stack, "wechat")
    for typed in ("23", "4.50"):
        form = await phone.open(code.url)
        assert form.status_code == 200 and 'id="pos-amount"' in form.text
        _data, answer = await phone.bridge(await phone.post_form(form, typed))
        assert answer["state"] == "PAID", answer
    listed = await client.store_payments(since)
    assert [(p.amount_fen, p.mode, p.operator) for p in listed] == [
        (2300, PaymentMode.STORE_QR, "store-qr"),
        (450, PaymentMode.STORE_QR, "store-qr"),
    ]
    assert all(p.terminal_id == TERMINAL for p in listed)


@pytest.mark.parametrize("typed", ["0", "-5", "1.234", "abc", "", "99999999"])
async def test_store_code_refuses_bad_amounts(stack: Stack, client: EngineClient, typed: str) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    code = await client.store_code()
    phone = Phone(stack, "alipay")
    form = await phone.open(code.url)
    answer = await phone.post_form(form, typed)
    assert answer.status_code == 422 and 'id="pos-amount"' in answer.text
    assert await client.store_payments(since) == []


async def test_rotated_store_code_says_it_was_replaced(stack: Stack, client: EngineClient) -> None:
    old = await client.store_code()
    new = await client.store_code(rotate=True)
    assert new.url != old.url
    async with httpx.AsyncClient(transport=httpx.ASGITransport(stack.engine)) as browser:
        gone = await browser.get(old.url, headers={"User-Agent": WECHAT_UA, "Accept-Language": "en"})
    assert gone.status_code == 410 and "replaced" in gone.text


async def test_store_payments_are_this_terminals_only(stack: Stack, client: EngineClient) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    async with stack.client("T002") as other:
        await other.activate(stack.new_code(), STORE, "T002", "Till 2")
        other_code = await other.store_code()
        phone = Phone(stack, "wechat")
        await phone.bridge(await phone.post_form(await phone.open(other_code.url), "8"))
        assert [p.terminal_id for p in await other.store_payments(since)] == ["T002"]
    assert await client.store_payments(since) == []


async def test_the_till_cannot_create_store_qr_payments(client: EngineClient) -> None:
    request = one_qr().model_copy(update={"mode": PaymentMode.STORE_QR})
    with pytest.raises(InputError):
        await client.create_payment(request)


async def test_pages_and_script_are_gzipped_for_phones_that_take_it(stack: Stack, client: EngineClient) -> None:
    view = await client.create_payment(one_qr())
    assert view.code_url is not None
    async with httpx.AsyncClient(transport=httpx.ASGITransport(stack.engine)) as browser:
        script = await browser.get(stack.settings.engine.public_url + "/p/pay.js", headers={"Accept-Encoding": "gzip"})
        plain = await browser.get(
            stack.settings.engine.public_url + "/p/pay.js", headers={"Accept-Encoding": "identity"}
        )
    assert script.headers["content-encoding"] == "gzip" and "getBrandWCPayRequest" in script.text
    assert "content-encoding" not in plain.headers and plain.text == script.text
    assert int(script.headers["content-length"]) < int(plain.headers["content-length"])


async def test_without_the_app_secret_one_qr_is_409_and_channels_say_why(demo_settings: Any) -> None:
    from api_support import open_stack

    from pos_app.api.client import EngineConflict

    secret = demo_settings.path(demo_settings.wechatpay.oauth_secret_file)
    secret.unlink()
    async with open_stack(demo_settings) as stack, stack.client() as client:
        await client.activate(stack.new_code(), STORE, TERMINAL, "Till 1")
        channels = await client.channels()
        assert channels.one_qr is False and "AppSecret" in (channels.one_qr_message or "")
        assert all(c.available for c in channels.channels)  # the per-wallet codes still work
        with pytest.raises(EngineConflict) as info:
            await client.create_payment(one_qr())
        assert info.value.code == "one_qr_unavailable" and info.value.status_code == 409


async def test_a_phone_hammering_a_code_is_told_to_wait_and_others_are_not(demo_settings: Any) -> None:
    """``[engine] page_rate_limit`` counts, per phone address and code, the page requests that reach
    a gateway: over it, 429 with Retry-After and a worded answer, and no gateway call."""
    from api_support import open_stack

    demo_settings.engine.page_rate_limit = "2/minute"
    async with open_stack(demo_settings) as stack, stack.client() as client:
        await client.activate(stack.new_code(), STORE, TERMINAL, "Till 1")
        view = await client.create_payment(one_qr())
        other = await client.create_payment(one_qr())
        assert view.code_url is not None and other.code_url is not None
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(stack.engine),
            headers={"User-Agent": WECHAT_UA, "Accept-Language": "en"},
        ) as phone:
            url = f"{view.code_url}/result?o={view.out_trade_no}&k={'0' * 32}"
            answers = [await phone.post(url, json={"result": "ok"}) for _ in range(3)]
            assert [a.status_code for a in answers] == [400, 400, 429]  # a forged check twice, then refused
            third = answers[2]
            assert 1 <= int(third.headers["retry-after"]) <= 60
            assert third.json()["state"] is None and third.json()["message"].startswith("Too many tries")
            signed_in = await phone.get(f"{view.code_url}/wechat", params={"code": "abc", "state": "x"})
            assert signed_in.status_code == 429 and "Too many tries" in signed_in.text  # the page, worded
            # Another code (another sale) from the same phone is counted apart.
            elsewhere = await phone.post(
                f"{other.code_url}/result?o={other.out_trade_no}&k={'0' * 32}", json={"result": "ok"}
            )
            assert elsewhere.status_code == 400
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(stack.engine),
            headers={"User-Agent": WECHAT_UA, "Accept-Language": "zh-CN"},
        ) as phone_zh:
            refused = await phone_zh.post(url, json={"result": "ok"})  # same address (the test client)
            assert refused.status_code == 429 and "请等待" in refused.json()["message"]
        after = await client.get_payment(view.out_trade_no)
        assert after.state is PaymentState.AWAITING_SCAN and after.channel is None  # nothing changed
