"""The simulated Alipay gateway, driven by requests built by hand from specs/alipay-f2f.md.

Everything on the client side here is written in this file from the spec (RSA2 signing with
`cryptography`, the quote-aware response extraction, the notification check): the engine's provider
code is not used, so a misreading on either side shows up as a failure here.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
import tomllib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
import tomli_w
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from pos_app.config import Settings, load_settings
from pos_app.domain.china_time import CHINA_TZ
from pos_app.sandbox.app import create_app
from pos_app.sandbox.clock import ManualClock
from pos_app.sandbox.context import SandboxContext
from pos_app.sandbox.demo import init_demo_profile

SHARED = Path(__file__).resolve().parents[4] / "shared"
START = datetime(2026, 11, 20, 10, 0, 0, tzinfo=CHINA_TZ)
NOTIFY_URL = "http://merchant.test/notify/alipay"


# --- the client side, written from the spec -----------------------------------------------------


def string_to_sign(params: dict[str, str]) -> str:
    """Spec §1: all params minus sign and empty values, sorted by key, k=v joined with &, raw values."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")


def rsa2_sign(key: rsa.RSAPrivateKey, text: str, charset: str = "utf-8") -> str:
    return base64.b64encode(key.sign(text.encode(charset), padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def rsa2_verify(key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def signed_segment(text: str, key: str) -> str:
    """Spec §2: the raw text of the response object, from its `{` to the balancing `}` (quote aware)."""
    marker = f'"{key}":'
    start = text.index(marker) + len(marker)
    assert text[start] == "{"
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        c = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    raise AssertionError("unbalanced response object")


@dataclass
class Reply:
    text: str
    key: str
    obj: dict[str, Any]
    segment: str
    sign: str | None

    @property
    def code(self) -> str:
        return str(self.obj["code"])

    @property
    def sub_code(self) -> str | None:
        return self.obj.get("sub_code")


def read_reply(response: httpx.Response, method: str, gateway_key: rsa.RSAPublicKey, charset: str = "utf-8") -> Reply:
    assert response.status_code == 200, response.text
    text = response.content.decode(charset)
    document = json.loads(text)
    key = method.replace(".", "_") + "_response"
    if key not in document:
        key = "error_response"
    segment = signed_segment(text, key)
    sign = document.get("sign")
    if sign is not None:
        assert list(document)[-1] == "sign"
        assert text.endswith(f',"sign":"{sign}"}}')
        assert rsa2_verify(gateway_key, segment.encode(charset), sign), "response signature does not verify"
    return Reply(text, key, document[key], segment, sign)


@dataclass
class Receiver:
    """The merchant's notify_url: records every POST and answers from a script (default `success`)."""

    answers: list[str] = field(default_factory=list)
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/notify/alipay")
        async def notify(request: Request) -> PlainTextResponse:
            self.received.append((await request.body(), dict(request.headers)))
            return PlainTextResponse(self.answers.pop(0) if self.answers else "success")

        return app

    def forms(self) -> list[dict[str, str]]:
        return [dict(parse_qsl(body.decode("ascii"), keep_blank_values=True)) for body, _ in self.received]


@dataclass
class Gateway:
    """One sandbox app plus a hand-written Alipay client for it."""

    http: httpx.AsyncClient
    ctx: SandboxContext
    clock: ManualClock
    app_key: rsa.RSAPrivateKey
    gateway_key: rsa.RSAPublicKey
    app_id: str
    receiver: Receiver

    def common(self, method: str, charset: str = "utf-8") -> dict[str, str]:
        now = datetime.fromtimestamp(self.clock.now(), CHINA_TZ)
        return {
            "app_id": self.app_id,
            "method": method,
            "format": "JSON",
            "charset": charset,
            "sign_type": "RSA2",
            "timestamp": now.strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
        }

    def signed(
        self,
        method: str,
        biz: dict[str, Any],
        *,
        notify_url: str = "",
        charset: str = "utf-8",
        overrides: dict[str, str] | None = None,
    ) -> dict[str, str]:
        params = self.common(method, charset)
        params["biz_content"] = json.dumps(biz, ensure_ascii=False, separators=(",", ":"))
        if notify_url:
            params["notify_url"] = notify_url
        params.update(overrides or {})
        params["sign"] = rsa2_sign(self.app_key, string_to_sign(params), charset)
        return params

    async def send(self, params: dict[str, str], *, style: str = "post", charset: str = "utf-8") -> httpx.Response:
        encoding = "gbk" if charset == "gbk" else "utf-8"
        form_type = {"Content-Type": f"application/x-www-form-urlencoded;charset={charset}"}
        if style == "get":
            return await self.http.get("/gateway.do?" + urlencode(params, encoding=encoding))
        if style == "split":  # python-sdk-all: common params in the query string, biz_content in the body
            query = {k: v for k, v in params.items() if k != "biz_content"}
            body = urlencode({"biz_content": params["biz_content"]}, encoding=encoding)
            return await self.http.post(
                "/gateway.do?" + urlencode(query, encoding=encoding), content=body, headers=form_type
            )
        return await self.http.post("/gateway.do", content=urlencode(params, encoding=encoding), headers=form_type)

    async def call(
        self, method: str, biz: dict[str, Any], *, notify_url: str = "", style: str = "post", charset: str = "utf-8"
    ) -> Reply:
        params = self.signed(method, biz, notify_url=notify_url, charset=charset)
        response = await self.send(params, style=style, charset=charset)
        return read_reply(response, method, self.gateway_key, "gbk" if charset == "gbk" else "utf-8")

    async def authcode(self, **options: Any) -> str:
        response = await self.http.post("/sandbox/authcodes", json={"channel": "alipay", **options})
        assert response.status_code == 200, response.text
        return str(response.json()["auth_code"])

    async def wallet_pay(self, qr: str, **options: Any) -> dict[str, Any]:
        response = await self.http.post("/sandbox/pay", json={"qr": qr, **options})
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.ctx.step()

    def verify_notification(self, form: dict[str, str]) -> bool:
        """Spec §4: drop sign AND sign_type, drop empties, sort, k=v&…, SHA256withRSA."""
        content = "&".join(f"{k}={form[k]}" for k in sorted(form) if k not in ("sign", "sign_type") and form[k])
        return rsa2_verify(self.gateway_key, content.encode("utf-8"), form["sign"])


def _load_private(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _load_public(path: Path) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    assert isinstance(key, rsa.RSAPublicKey)
    return key


@pytest.fixture(scope="module")
def profile_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo profile per module (RSA key generation is the slow part); each test gets a copy."""
    return init_demo_profile(tmp_path_factory.mktemp("alipay-template") / "profile").home


@pytest.fixture
def home(profile_template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "profile"
    shutil.copytree(profile_template, target)  # copy2 keeps the 0600 modes of the key files
    return target


@pytest.fixture
def settings(home: Path) -> Settings:
    return load_settings(home / "pos.toml")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=START.timestamp())


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


async def _open(settings: Settings, home: Path, clock: ManualClock, receiver: Receiver) -> tuple[Gateway, FastAPI]:
    app = create_app(settings, clock=clock, notify_transport=httpx.ASGITransport(app=receiver.app()))
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test")
    facts = tomllib.loads((home / "sandbox-keys" / "merchant.toml").read_text("utf-8"))
    gateway = Gateway(
        http=http,
        ctx=app.state.ctx,
        clock=clock,
        app_key=_load_private(home / "keys" / "alipay_app_key.pem"),
        gateway_key=_load_public(home / "keys" / "alipay_public_key.pem"),
        app_id=facts["alipay"]["app_id"],
        receiver=receiver,
    )
    return gateway, app


@pytest.fixture
async def gw(home: Path, settings: Settings, clock: ManualClock, receiver: Receiver) -> AsyncIterator[Gateway]:
    gateway, _ = await _open(settings, home, clock, receiver)
    async with gateway.http:
        yield gateway


def _order(otn: str, amount: str = "10.00", subject: str = "拿铁咖啡", **extra: Any) -> dict[str, Any]:
    return {"out_trade_no": otn, "total_amount": amount, "subject": subject, **extra}


async def _bar_pay(gw: Gateway, otn: str, amount: str = "10.00", *, notify: bool = True, **code: Any) -> Reply:
    auth_code = await gw.authcode(**code)
    biz = _order(otn, amount, scene="bar_code", auth_code=auth_code, product_code="FACE_TO_FACE_PAYMENT")
    return await gw.call("alipay.trade.pay", biz, notify_url=NOTIFY_URL if notify else "")


# --- signing: the known-answer vector -----------------------------------------------------------


def _vector() -> dict[str, Any]:
    data = json.loads((SHARED / "vectors" / "signing.json").read_text("utf-8"))
    return dict(data["alipay_request_signature"])


def test_known_answer_vector_reproduced_by_the_test_signer() -> None:
    vector = _vector()
    key = serialization.load_pem_private_key(vector["private_key_pem"].encode("ascii"), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    content = string_to_sign(vector["params"])
    assert content == vector["string_to_sign"]
    assert rsa2_sign(key, content) == vector["signature"]


@pytest.mark.parametrize("style", ["post", "get", "split"])
async def test_sandbox_accepts_the_vector_request_when_configured_with_its_public_key(
    home: Path, clock: ManualClock, receiver: Receiver, style: str
) -> None:
    vector = _vector()
    key = serialization.load_pem_private_key(vector["private_key_pem"].encode("ascii"), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    keys_dir = home / "sandbox-keys"
    (keys_dir / "alipay_app_pub.pem").write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    facts = tomllib.loads((keys_dir / "merchant.toml").read_text("utf-8"))
    facts["alipay"]["app_id"] = vector["params"]["app_id"]
    (keys_dir / "merchant.toml").write_text(tomli_w.dumps(facts), "utf-8")
    gateway, _ = await _open(load_settings(home / "pos.toml"), home, clock, receiver)
    async with gateway.http:
        params = {**vector["params"], "sign": vector["signature"]}
        reply = read_reply(await gateway.send(params, style=style), "alipay.trade.precreate", gateway.gateway_key)
        assert reply.code == "10000", reply.obj
        assert reply.obj["out_trade_no"] == "20150320010101001"
        assert reply.obj["qr_code"].startswith("https://qr.alipay.com/bax")
        # The signed text is the escaped form Alipay writes.
        assert '"qr_code":"https:\\/\\/qr.alipay.com\\/bax' in reply.segment
        # One changed byte of the request breaks the signature.
        forged = {**params, "biz_content": params["biz_content"].replace("88.88", "88.89")}
        bad = read_reply(await gateway.send(forged, style=style), "alipay.trade.precreate", gateway.gateway_key)
        assert (bad.code, bad.sub_code) == ("40002", "isv.invalid-signature")


async def test_response_signature_covers_the_raw_escaped_text(gw: Gateway) -> None:
    reply = await gw.call("alipay.trade.precreate", _order("RAW0001"))
    assert "\\/" in reply.segment and reply.sign is not None
    assert rsa2_verify(gw.gateway_key, reply.segment.encode(), reply.sign)
    # Un-escaping the slashes (a re-serialisation) no longer verifies; nor does any changed byte.
    assert not rsa2_verify(gw.gateway_key, reply.segment.replace("\\/", "/").encode(), reply.sign)
    assert not rsa2_verify(gw.gateway_key, reply.segment.replace("RAW0001", "RAW0002").encode(), reply.sign)
    assert not rsa2_verify(gw.gateway_key, json.dumps(reply.obj, separators=(",", ":")).encode(), reply.sign)


async def test_invalid_signature_echoes_the_string_the_gateway_built(gw: Gateway) -> None:
    params = gw.signed("alipay.trade.query", {"out_trade_no": "SIG0001"})
    params["sign"] = rsa2_sign(gw.app_key, "something else")
    reply = read_reply(await gw.send(params), "alipay.trade.query", gw.gateway_key)
    assert (reply.code, reply.obj["msg"], reply.sub_code) == ("40002", "Invalid Arguments", "isv.invalid-signature")
    assert reply.obj["sub_msg"].endswith("：" + string_to_sign(params))
    assert "sign_type=RSA2" in reply.obj["sub_msg"]


async def test_signature_over_gbk_bytes_when_charset_is_gbk(gw: Gateway) -> None:
    reply = await gw.call("alipay.trade.precreate", _order("GBK0001", subject="中文商品"), charset="gbk")
    assert reply.code == "10000"
    # The same request signed over its UTF-8 bytes is refused.
    params = gw.signed("alipay.trade.precreate", _order("GBK0002", subject="中文商品"), charset="utf-8")
    params["charset"] = "gbk"
    params["sign"] = rsa2_sign(gw.app_key, string_to_sign(params), "utf-8")
    bad = read_reply(await gw.send(params, charset="gbk"), "alipay.trade.precreate", gw.gateway_key, "gbk")
    assert bad.sub_code == "isv.invalid-signature"


@pytest.mark.parametrize(
    ("change", "key", "code", "sub_code"),
    [
        ({"method": ""}, "error_response", "40001", "isv.missing-method"),
        ({"method": "alipay.trade.nothing"}, "error_response", "40002", "isv.invalid-method"),
        ({"app_id": "2021999999999999"}, None, "40002", "isv.invalid-app-id"),
        ({"app_id": ""}, None, "40001", "isv.missing-app-id"),
        ({"charset": "latin-9"}, None, "40002", "isv.invalid-charset"),
        ({"sign_type": "RSA"}, None, "40002", "isv.invalid-signature-type"),
        ({"sign_type": ""}, None, "40001", "isv.missing-signature-type"),
        ({"timestamp": "2026/11/20 10:00"}, None, "40002", "isv.invalid-timestamp"),
        ({"timestamp": ""}, None, "40001", "isv.missing-timestamp"),
        ({"version": ""}, None, "40001", "isv.missing-version"),
        ({"biz_content": "{not json"}, None, "40002", "isv.invalid-parameter"),
    ],
)
async def test_common_parameter_errors(
    gw: Gateway, change: dict[str, str], key: str | None, code: str, sub_code: str
) -> None:
    params = gw.signed("alipay.trade.query", {"out_trade_no": "ERR0001"}, overrides=change)
    reply = read_reply(await gw.send(params), "alipay.trade.query", gw.gateway_key)
    assert reply.key == (key or "alipay_trade_query_response")
    assert (reply.code, reply.sub_code) == (code, sub_code)


async def test_missing_sign_is_refused(gw: Gateway) -> None:
    params = gw.signed("alipay.trade.query", {"out_trade_no": "ERR0002"})
    del params["sign"]
    reply = read_reply(await gw.send(params), "alipay.trade.query", gw.gateway_key)
    assert (reply.code, reply.sub_code) == ("40001", "isv.missing-signature")


# --- precreate: QR shown, scanned, paid ---------------------------------------------------------


async def test_precreate_trade_exists_only_after_the_scan(gw: Gateway) -> None:
    reply = await gw.call("alipay.trade.precreate", _order("QR0001", "23.45"), notify_url=NOTIFY_URL)
    assert reply.code == "10000" and "trade_no" not in reply.obj
    qr = reply.obj["qr_code"]
    assert qr.startswith("https://qr.alipay.com/bax")

    before = await gw.call("alipay.trade.query", {"out_trade_no": "QR0001"})
    assert (before.code, before.sub_code, before.obj["sub_msg"]) == ("40004", "ACQ.TRADE_NOT_EXIST", "交易不存在")
    assert before.obj["out_trade_no"] == "QR0001" and before.obj["buyer_pay_amount"] == "0.00"

    outcome = await gw.wallet_pay(qr, after_s=20)  # scans now, confirms in 20 s
    assert outcome["ok"] and outcome["gateway"] == "alipay"
    waiting = await gw.call("alipay.trade.query", {"out_trade_no": "QR0001"})
    assert waiting.obj["trade_status"] == "WAIT_BUYER_PAY"
    assert len(waiting.obj["trade_no"]) == 28 and waiting.obj["buyer_pay_amount"] == "0.00"

    await gw.advance(20)
    paid = await gw.call("alipay.trade.query", {"trade_no": waiting.obj["trade_no"]})
    assert paid.obj["trade_status"] == "TRADE_SUCCESS"
    assert paid.obj["total_amount"] == paid.obj["buyer_pay_amount"] == paid.obj["receipt_amount"] == "23.45"
    assert paid.obj["send_pay_date"] == (START + timedelta(seconds=20)).strftime("%Y-%m-%d %H:%M:%S")

    await gw.ctx.step()
    forms = gw.receiver.forms()
    assert [f["trade_status"] for f in forms] == ["TRADE_SUCCESS"]  # WAIT_BUYER_PAY is off by default
    form = forms[0]
    assert gw.verify_notification(form)
    assert form["notify_type"] == "trade_status_sync" and form["charset"] == "utf-8" and form["sign_type"] == "RSA2"
    assert (form["out_trade_no"], form["trade_no"], form["total_amount"]) == ("QR0001", paid.obj["trade_no"], "23.45")
    assert form["app_id"] == gw.app_id and form["seller_id"] == gw.ctx.keys.alipay.seller_id
    assert json.loads(form["fund_bill_list"]) == [{"amount": "23.45", "fundChannel": "ALIPAYACCOUNT"}]
    body, headers = gw.receiver.received[0]
    assert headers["content-type"].startswith("application/x-www-form-urlencoded")


async def test_wait_buyer_pay_notification_is_a_switch(
    home: Path, settings: Settings, clock: ManualClock, receiver: Receiver
) -> None:
    settings.sandbox.alipay_notify_wait_buyer_pay = True
    gateway, _ = await _open(settings, home, clock, receiver)
    async with gateway.http:
        reply = await gateway.call("alipay.trade.precreate", _order("QR0002"), notify_url=NOTIFY_URL)
        await gateway.wallet_pay(reply.obj["qr_code"])
        await gateway.ctx.step()
        forms = receiver.forms()
        assert [f["trade_status"] for f in forms] == ["WAIT_BUYER_PAY", "TRADE_SUCCESS"]
        assert all(gateway.verify_notification(f) for f in forms)
        assert "gmt_payment" not in forms[0] and forms[1]["gmt_payment"]


async def test_precreate_repeat_and_out_trade_no_rules(gw: Gateway) -> None:
    first = await gw.call("alipay.trade.precreate", _order("QR0003"))
    again = await gw.call("alipay.trade.precreate", _order("QR0003"))
    assert again.obj["qr_code"] == first.obj["qr_code"]
    other = await gw.call("alipay.trade.precreate", _order("QR0003", "10.01"))
    assert other.sub_code == "ACQ.CONTEXT_INCONSISTENT"
    renamed = await gw.call("alipay.trade.precreate", _order("QR0003", subject="other"))
    assert renamed.sub_code == "ACQ.CONTEXT_INCONSISTENT"
    await gw.wallet_pay(first.obj["qr_code"])
    assert (await gw.call("alipay.trade.precreate", _order("QR0003"))).sub_code == "ACQ.TRADE_HAS_SUCCESS"
    paid_again = await gw.wallet_pay(first.obj["qr_code"])
    assert not paid_again["ok"]


async def test_wallet_failure_leaves_the_scanned_trade_waiting(gw: Gateway) -> None:
    reply = await gw.call("alipay.trade.precreate", _order("QR0004"))
    outcome = await gw.wallet_pay(reply.obj["qr_code"], fail="balance")
    assert not outcome["ok"]
    query = await gw.call("alipay.trade.query", {"out_trade_no": "QR0004"})
    assert query.obj["trade_status"] == "WAIT_BUYER_PAY"


async def test_unknown_qr_is_refused(gw: Gateway) -> None:
    response = await gw.http.post("/sandbox/pay", json={"qr": "https://qr.alipay.com/baxnothing"})
    assert response.status_code == 404


async def test_qr_times_out(gw: Gateway) -> None:
    reply = await gw.call("alipay.trade.precreate", _order("QR0005", qr_code_timeout_express="5m"))
    await gw.advance(5 * 60)
    assert not (await gw.wallet_pay(reply.obj["qr_code"]))["ok"]
    assert (await gw.call("alipay.trade.query", {"out_trade_no": "QR0005"})).sub_code == "ACQ.TRADE_NOT_EXIST"


# --- bar-code pay -------------------------------------------------------------------------------


async def test_bar_code_pay_instant_success_and_notification(gw: Gateway) -> None:
    reply = await _bar_pay(gw, "BAR0001", "88.88")
    assert (reply.code, reply.obj["msg"]) == ("10000", "Success")
    obj = reply.obj
    assert obj["out_trade_no"] == "BAR0001" and len(obj["trade_no"]) == 28
    assert obj["total_amount"] == obj["receipt_amount"] == obj["buyer_pay_amount"] == obj["invoice_amount"] == "88.88"
    assert obj["gmt_payment"] == START.strftime("%Y-%m-%d %H:%M:%S")
    assert obj["buyer_user_id"].startswith("2088") and len(obj["buyer_user_id"]) == 16
    assert obj["fund_bill_list"] == [{"amount": "88.88", "fund_channel": "ALIPAYACCOUNT", "real_amount": "88.88"}]
    await gw.ctx.step()
    (form,) = gw.receiver.forms()
    assert gw.verify_notification(form)
    assert (form["trade_status"], form["trade_no"], form["buyer_id"]) == (
        "TRADE_SUCCESS",
        obj["trade_no"],
        obj["buyer_user_id"],
    )


async def test_bar_code_pay_without_notify_url_sends_nothing(gw: Gateway) -> None:
    assert (await _bar_pay(gw, "BAR0002", notify=False)).code == "10000"
    await gw.ctx.step()
    assert gw.receiver.received == []


async def test_password_scenario_answers_10003_then_succeeds(gw: Gateway) -> None:
    reply = await _bar_pay(gw, "BAR0003", "5.00", password_seconds=15)
    assert (reply.code, reply.obj["msg"]) == ("10003", "order success pay inprocess")
    assert reply.obj["trade_no"] and reply.obj["buyer_pay_amount"] == "0.00"
    assert (await gw.call("alipay.trade.query", {"out_trade_no": "BAR0003"})).obj["trade_status"] == "WAIT_BUYER_PAY"
    await gw.advance(10)
    assert (await gw.call("alipay.trade.query", {"out_trade_no": "BAR0003"})).obj["trade_status"] == "WAIT_BUYER_PAY"
    assert gw.receiver.received == []
    await gw.advance(5)
    done = await gw.call("alipay.trade.query", {"out_trade_no": "BAR0003"})
    assert done.obj["trade_status"] == "TRADE_SUCCESS" and done.obj["buyer_pay_amount"] == "5.00"
    assert [f["trade_status"] for f in gw.receiver.forms()] == ["TRADE_SUCCESS"]


async def test_user_cancelling_the_password_fails_the_payment(gw: Gateway) -> None:
    reply = await _bar_pay(gw, "BAR0004", password_seconds=8, user_cancels=True)
    assert reply.code == "10003"
    await gw.advance(8)
    query = await gw.call("alipay.trade.query", {"out_trade_no": "BAR0004"})
    assert query.obj["trade_status"] == "TRADE_CLOSED" and query.obj["receipt_amount"] == "0.00"
    retry = await _bar_pay(gw, "BAR0004")
    assert retry.sub_code == "ACQ.TRADE_HAS_CLOSE"


async def test_user_cancelling_without_a_password_time_still_shows_the_prompt(gw: Gateway) -> None:
    assert (await _bar_pay(gw, "BAR0010", user_cancels=True)).code == "10003"
    assert (await gw.call("alipay.trade.query", {"out_trade_no": "BAR0010"})).obj["trade_status"] == "WAIT_BUYER_PAY"
    await gw.advance(5)
    assert (await gw.call("alipay.trade.query", {"out_trade_no": "BAR0010"})).obj["trade_status"] == "TRADE_CLOSED"


async def test_balance_not_enough_and_codes_used_once(gw: Gateway) -> None:
    code = await gw.authcode(balance_fen=999)
    biz = _order("BAR0005", "10.00", scene="bar_code", auth_code=code)
    poor = await gw.call("alipay.trade.pay", biz)
    assert (poor.code, poor.sub_code) == ("40004", "ACQ.BUYER_BALANCE_NOT_ENOUGH")
    assert poor.obj["out_trade_no"] == "BAR0005" and poor.obj["receipt_amount"] == "0.00"
    # The code was used, even though the payment failed: another order cannot use it.
    reuse = await gw.call("alipay.trade.pay", {**biz, "out_trade_no": "BAR0006", "total_amount": "1.00"})
    assert reuse.sub_code == "ACQ.PAYMENT_AUTH_CODE_INVALID"


@pytest.mark.parametrize("kind", ["expired", "unknown", "used", "wechat"])
async def test_invalid_payment_codes(gw: Gateway, kind: str) -> None:
    if kind == "expired":
        code = await gw.authcode(expired=True)
    elif kind == "unknown":
        code = "287777777777777777"
    elif kind == "wechat":
        code = str((await gw.http.post("/sandbox/authcodes", json={"channel": "wechat"})).json()["auth_code"])
    else:
        code = await gw.authcode()
        assert (await gw.call("alipay.trade.pay", _order("BAR0007", scene="bar_code", auth_code=code))).code == "10000"
    reply = await gw.call("alipay.trade.pay", _order("BAR0008", scene="bar_code", auth_code=code))
    assert (reply.code, reply.sub_code) == ("40004", "ACQ.PAYMENT_AUTH_CODE_INVALID")
    assert code not in reply.text


async def test_pay_out_trade_no_rules(gw: Gateway) -> None:
    assert (await _bar_pay(gw, "BAR0009", "3.00")).code == "10000"
    assert (await _bar_pay(gw, "BAR0009", "3.00")).sub_code == "ACQ.TRADE_HAS_SUCCESS"
    assert (await _bar_pay(gw, "BAR0009", "3.01")).sub_code == "ACQ.CONTEXT_INCONSISTENT"


@pytest.mark.parametrize(
    ("otn", "amount", "sub_code"),
    [
        ("AMT0001", "0.00", "ACQ.TOTAL_FEE_EXCEED"),
        ("AMT0002", "100000000.01", "ACQ.TOTAL_FEE_EXCEED"),
        ("AMT0003", "1.234", "ACQ.INVALID_PARAMETER"),
        ("AMT0004", "-1.00", "ACQ.INVALID_PARAMETER"),
        ("AMT0005", "1e3", "ACQ.INVALID_PARAMETER"),
        ("bad-no", "1.00", "ACQ.INVALID_PARAMETER"),
        ("X" * 65, "1.00", "ACQ.INVALID_PARAMETER"),
    ],
)
async def test_order_validation(gw: Gateway, otn: str, amount: str, sub_code: str) -> None:
    reply = await gw.call("alipay.trade.precreate", _order(otn, amount))
    assert (reply.code, reply.sub_code) == ("40004", sub_code)


async def test_amount_edges_accepted(gw: Gateway) -> None:
    for otn, amount in [("EDGE_0001", "0.01"), ("EDGE_0002", "100000000.00"), ("E" * 64, "7.5")]:
        assert (await gw.call("alipay.trade.precreate", _order(otn, amount))).code == "10000"


# --- cancel / close -----------------------------------------------------------------------------


async def test_cancel_unpaid_closes_and_paid_refunds(gw: Gateway) -> None:
    waiting = await _bar_pay(gw, "CAN0001", password_seconds=30)
    closed = await gw.call("alipay.trade.cancel", {"out_trade_no": "CAN0001"})
    assert closed.code == "10000"
    assert (closed.obj["action"], closed.obj["retry_flag"], closed.obj["trade_no"]) == (
        "close",
        "N",
        waiting.obj["trade_no"],
    )
    await gw.advance(30)  # the buyer's password comes too late: the trade stays closed
    assert (await gw.call("alipay.trade.query", {"out_trade_no": "CAN0001"})).obj["trade_status"] == "TRADE_CLOSED"

    assert (await _bar_pay(gw, "CAN0002", "6.00")).code == "10000"
    refunded = await gw.call("alipay.trade.cancel", {"out_trade_no": "CAN0002"})
    assert (refunded.obj["action"], refunded.obj["retry_flag"]) == ("refund", "N")
    query = await gw.call("alipay.trade.query", {"out_trade_no": "CAN0002"})
    assert query.obj["trade_status"] == "TRADE_CLOSED"
    again = await gw.call("alipay.trade.cancel", {"out_trade_no": "CAN0002"})
    assert (again.code, again.obj["action"]) == ("10000", "refund")
    await gw.ctx.step()
    statuses = [(f["out_trade_no"], f["trade_status"]) for f in gw.receiver.forms()]
    assert ("CAN0002", "TRADE_SUCCESS") in statuses and ("CAN0002", "TRADE_CLOSED") in statuses


async def test_cancel_of_an_unseen_order_burns_the_number(gw: Gateway) -> None:
    reply = await gw.call("alipay.trade.cancel", {"out_trade_no": "CAN0003"})
    assert (reply.code, reply.obj["action"], reply.obj["retry_flag"]) == ("10000", "close", "N")
    late = await _bar_pay(gw, "CAN0003")
    assert late.sub_code == "ACQ.TRADE_HAS_CLOSE"
    unknown = await gw.call("alipay.trade.cancel", {"trade_no": "2026112022001999999999999999"})
    assert unknown.sub_code == "ACQ.TRADE_NOT_EXIST"


async def test_cancel_window_and_refunded_trades(gw: Gateway) -> None:
    assert (await _bar_pay(gw, "CAN0004", "9.00")).code == "10000"
    partial = await gw.call(
        "alipay.trade.refund", {"out_trade_no": "CAN0004", "refund_amount": "1.00", "out_request_no": "R1"}
    )
    assert partial.code == "10000"
    assert (await gw.call("alipay.trade.cancel", {"out_trade_no": "CAN0004"})).sub_code == (
        "ACQ.REASON_TRADE_REFUND_FEE_ERR"
    )
    assert (await _bar_pay(gw, "CAN0005", "9.00")).code == "10000"
    await gw.advance(24 * 3600 + 1)
    late = await gw.call("alipay.trade.cancel", {"out_trade_no": "CAN0005"})
    assert late.sub_code == "ACQ.TRADE_CANCEL_TIME_OUT"


async def test_close_rules(gw: Gateway) -> None:
    qr = (await gw.call("alipay.trade.precreate", _order("CLO0001"), notify_url=NOTIFY_URL)).obj["qr_code"]
    never = await gw.call("alipay.trade.close", {"out_trade_no": "CLO0001"})
    assert never.sub_code == "ACQ.TRADE_NOT_EXIST"
    assert not (await gw.wallet_pay(qr))["ok"]  # closed before anyone scanned: nobody can pay it now

    qr2 = (await gw.call("alipay.trade.precreate", _order("CLO0002"), notify_url=NOTIFY_URL)).obj["qr_code"]
    await gw.wallet_pay(qr2, after_s=60)
    closed = await gw.call("alipay.trade.close", {"out_trade_no": "CLO0002", "operator_id": "cashier1"})
    assert closed.code == "10000" and closed.obj["out_trade_no"] == "CLO0002" and closed.obj["trade_no"]
    await gw.advance(60)
    assert (await gw.call("alipay.trade.query", {"out_trade_no": "CLO0002"})).obj["trade_status"] == "TRADE_CLOSED"
    assert [f["trade_status"] for f in gw.receiver.forms()] == ["TRADE_CLOSED"]
    assert gw.receiver.forms()[0]["gmt_close"]

    assert (await _bar_pay(gw, "CLO0003")).code == "10000"
    assert (await gw.call("alipay.trade.close", {"out_trade_no": "CLO0003"})).sub_code == "ACQ.TRADE_STATUS_ERROR"
    assert (await gw.call("alipay.trade.close", {"out_trade_no": "CLO0404"})).sub_code == "ACQ.TRADE_NOT_EXIST"


# --- refunds ------------------------------------------------------------------------------------


async def test_refund_replay_rules_and_full_refund(gw: Gateway) -> None:
    paid = await _bar_pay(gw, "REF0001", "10.00")
    trade_no = paid.obj["trade_no"]
    first = await gw.call(
        "alipay.trade.refund",
        {"out_trade_no": "REF0001", "refund_amount": "3.00", "out_request_no": "REQ1", "refund_reason": "少杯"},
    )
    assert (first.code, first.obj["fund_change"], first.obj["refund_fee"]) == ("10000", "Y", "3.00")
    assert first.obj["trade_no"] == trade_no
    replay = await gw.call(
        "alipay.trade.refund", {"out_trade_no": "REF0001", "refund_amount": "3.00", "out_request_no": "REQ1"}
    )
    assert (replay.code, replay.obj["fund_change"], replay.obj["refund_fee"]) == ("10000", "N", "3.00")
    discordant = await gw.call(
        "alipay.trade.refund", {"trade_no": trade_no, "refund_amount": "4.00", "out_request_no": "REQ1"}
    )
    assert discordant.sub_code == "ACQ.DISCORDANT_REPEAT_REQUEST"
    too_much = await gw.call(
        "alipay.trade.refund", {"out_trade_no": "REF0001", "refund_amount": "7.01", "out_request_no": "REQ2"}
    )
    assert too_much.sub_code == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
    assert (await gw.call("alipay.trade.query", {"out_trade_no": "REF0001"})).obj["trade_status"] == "TRADE_SUCCESS"
    rest = await gw.call(
        "alipay.trade.refund", {"out_trade_no": "REF0001", "refund_amount": "7.00", "out_request_no": "REQ2"}
    )
    assert (rest.obj["fund_change"], rest.obj["refund_fee"]) == ("Y", "10.00")
    assert (await gw.call("alipay.trade.query", {"out_trade_no": "REF0001"})).obj["trade_status"] == "TRADE_CLOSED"
    # A replay after the trade closed still answers like the first time; a new request is over the total.
    assert (
        await gw.call(
            "alipay.trade.refund", {"out_trade_no": "REF0001", "refund_amount": "3.00", "out_request_no": "REQ1"}
        )
    ).obj["fund_change"] == "N"
    assert (
        await gw.call(
            "alipay.trade.refund", {"out_trade_no": "REF0001", "refund_amount": "0.01", "out_request_no": "REQ3"}
        )
    ).sub_code == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"

    query = await gw.call("alipay.trade.fastpay.refund.query", {"out_trade_no": "REF0001", "out_request_no": "REQ1"})
    assert (query.obj["refund_status"], query.obj["refund_amount"], query.obj["total_amount"]) == (
        "REFUND_SUCCESS",
        "3.00",
        "10.00",
    )
    assert query.obj["refund_reason"] == "少杯"
    missing = await gw.call("alipay.trade.fastpay.refund.query", {"out_trade_no": "REF0001", "out_request_no": "NO"})
    assert missing.code == "10000" and "refund_status" not in missing.obj

    await gw.ctx.step()
    forms = gw.receiver.forms()
    assert all(gw.verify_notification(f) for f in forms)
    refunds = [f for f in forms if f.get("out_biz_no")]
    assert [(f["out_biz_no"], f["trade_status"], f["refund_fee"]) for f in refunds] == [
        ("REQ1", "TRADE_SUCCESS", "3.00"),
        ("REQ2", "TRADE_CLOSED", "10.00"),
    ]
    assert all(f["gmt_refund"] for f in refunds)


async def test_refund_errors(gw: Gateway) -> None:
    assert (await gw.call("alipay.trade.refund", {"out_trade_no": "REF0404", "refund_amount": "1.00"})).sub_code == (
        "ACQ.TRADE_NOT_EXIST"
    )
    await _bar_pay(gw, "REF0002", password_seconds=60)
    unpaid = await gw.call("alipay.trade.refund", {"out_trade_no": "REF0002", "refund_amount": "1.00"})
    assert unpaid.sub_code == "ACQ.TRADE_STATUS_ERROR"
    await _bar_pay(gw, "REF0003", "2.00")
    bad = await gw.call("alipay.trade.refund", {"out_trade_no": "REF0003", "refund_amount": "0.001"})
    assert bad.sub_code == "ACQ.INVALID_PARAMETER"
    # Without out_request_no the refund is known by the out_trade_no (spec §3.7).
    whole = await gw.call("alipay.trade.refund", {"out_trade_no": "REF0003", "refund_amount": "2.00"})
    assert whole.code == "10000"
    query = await gw.call("alipay.trade.fastpay.refund.query", {"out_trade_no": "REF0003", "out_request_no": "REF0003"})
    assert query.obj["refund_status"] == "REFUND_SUCCESS"


# --- notifications: acknowledgement and retry schedule ------------------------------------------


async def test_notification_retried_on_the_alipay_schedule_until_exactly_success(gw: Gateway) -> None:
    gw.receiver.answers.extend(["fail", "success ", "SUCCESS"])
    await _bar_pay(gw, "NTF0001")
    await gw.ctx.step()
    assert len(gw.receiver.received) == 1
    for gap in (240, 600, 600):  # spec §4: 4m, 10m, 10m, then 1h...
        await gw.advance(gap - 1)
        attempts_before = len(gw.receiver.received)
        await gw.advance(1)
        assert len(gw.receiver.received) == attempts_before + 1
    await gw.advance(3600 * 10)
    assert len(gw.receiver.received) == 4  # acknowledged on the 4th send: no more
    forms = gw.receiver.forms()
    assert len({f["notify_id"] for f in forms}) == 1
    assert all(gw.verify_notification(f) for f in forms)
    assert forms[0]["notify_time"] != forms[-1]["notify_time"]  # each attempt stamps its own time


async def test_notification_faults_apply_to_alipay(gw: Gateway) -> None:
    response = await gw.http.post("/sandbox/faults", json={"kind": "notify_duplicate", "gateway": "alipay", "times": 1})
    assert response.status_code == 201
    await _bar_pay(gw, "NTF0002")
    await gw.ctx.step()
    assert [f["out_trade_no"] for f in gw.receiver.forms()] == ["NTF0002", "NTF0002"]


# --- request faults -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "sub_code"),
    [(500, "20000", "isp.unknow-error"), (503, "40004", "ACQ.SYSTEM_ERROR"), (502, "20000", "ACQ.SYSTEM_ERROR")],
)
async def test_system_error_faults_change_nothing(gw: Gateway, status: int, code: str, sub_code: str) -> None:
    await gw.http.post(
        "/sandbox/faults",
        json={
            "kind": "server_error",
            "gateway": "alipay",
            "status": status,
            "operation": "alipay.trade.pay",
            "times": 1,
        },
    )
    reply = await _bar_pay(gw, "FLT0001")
    assert (reply.code, reply.sub_code) == (code, sub_code)
    assert reply.obj["out_trade_no"] == "FLT0001"
    assert (await gw.call("alipay.trade.query", {"out_trade_no": "FLT0001"})).sub_code == "ACQ.TRADE_NOT_EXIST"
    assert (await _bar_pay(gw, "FLT0001")).code == "10000"  # the fault was used up


async def test_cancel_system_error_asks_to_retry(gw: Gateway) -> None:
    await gw.http.post(
        "/sandbox/faults",
        json={
            "kind": "server_error",
            "gateway": "alipay",
            "status": 503,
            "operation": "alipay.trade.cancel",
            "times": 1,
        },
    )
    reply = await gw.call("alipay.trade.cancel", {"out_trade_no": "FLT0002"})
    assert (reply.sub_code, reply.obj["retry_flag"]) == ("ACQ.SYSTEM_ERROR", "Y")


async def test_reply_lost_after_commit(gw: Gateway) -> None:
    await gw.http.post(
        "/sandbox/faults", json={"kind": "reply_lost", "gateway": "alipay", "operation": "alipay.trade.pay", "times": 1}
    )
    with pytest.raises(httpx.TransportError):
        await _bar_pay(gw, "FLT0003", "4.00")
    query = await gw.call("alipay.trade.query", {"out_trade_no": "FLT0003"})
    assert query.obj["trade_status"] == "TRADE_SUCCESS"


async def test_latency_fault(gw: Gateway) -> None:
    await gw.http.post("/sandbox/faults", json={"kind": "latency", "gateway": "alipay", "seconds": 0.3, "times": 1})
    started = time.monotonic()
    await gw.call("alipay.trade.query", {"out_trade_no": "FLT0004"})
    assert time.monotonic() - started >= 0.3


async def test_clock_skew_fault_refuses_stale_timestamps(gw: Gateway) -> None:
    await gw.http.post("/sandbox/faults", json={"kind": "clock_skew", "gateway": "alipay", "seconds": 3600})
    reply = await gw.call("alipay.trade.query", {"out_trade_no": "FLT0005"})
    assert reply.sub_code == "isv.invalid-timestamp"


# --- persistence --------------------------------------------------------------------------------


async def test_a_restarted_sandbox_still_knows_its_trades(
    home: Path, settings: Settings, clock: ManualClock, receiver: Receiver
) -> None:
    first, _ = await _open(settings, home, clock, receiver)
    async with first.http:
        paid = await _bar_pay(first, "PER0001", "12.00")
        qr = (await first.call("alipay.trade.precreate", _order("PER0002"))).obj["qr_code"]
    first.ctx.store.close()
    second, _ = await _open(load_settings(home / "pos.toml"), home, clock, receiver)
    async with second.http:
        query = await second.call("alipay.trade.query", {"out_trade_no": "PER0001"})
        assert (query.obj["trade_status"], query.obj["trade_no"]) == ("TRADE_SUCCESS", paid.obj["trade_no"])
        assert (await second.wallet_pay(qr))["ok"]
        assert (await second.call("alipay.trade.query", {"out_trade_no": "PER0002"})).obj["trade_status"] == (
            "TRADE_SUCCESS"
        )
