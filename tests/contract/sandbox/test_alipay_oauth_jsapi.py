"""Alipay web authorization, alipay.system.oauth.token, alipay.trade.create and tradePay on the sandbox
(specs/alipay-jsapi.md). Requests are built and RSA2-signed by hand with the helpers written from the
spec in test_alipay_gateway.py (not the engine's provider code)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from pos_app.config import Settings
from pos_app.sandbox.alipay.oauth import open_id_for
from pos_app.sandbox.clock import ManualClock
from tests.contract.sandbox.test_alipay_gateway import (  # noqa: F401 - fixtures used by name
    NOTIFY_URL,
    Gateway,
    Receiver,
    Reply,
    _open,
    clock,
    home,
    profile_template,
    read_reply,
    receiver,
    rsa2_sign,
    settings,
    string_to_sign,
)

ENGINE = "https://pay.example.com"
CALLBACK = ENGINE + "/q/t1/alipay"

Open = Callable[..., Any]


@pytest.fixture
async def open_gateway(
    home: Path,  # noqa: F811
    settings: Settings,  # noqa: F811
    clock: ManualClock,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> AsyncIterator[Open]:
    made: list[Gateway] = []

    async def make(**sandbox: Any) -> Gateway:
        configured = settings.model_copy(deep=True)
        configured.engine.public_url = ENGINE
        for name, value in sandbox.items():
            setattr(configured.sandbox, name, value)
        gateway, _ = await _open(configured, home, clock, receiver)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.http.aclose()


@pytest.fixture
async def gw(open_gateway: Open) -> Gateway:
    gateway: Gateway = await open_gateway()
    return gateway


async def auth_code(gw: Gateway, user: str = "alice", *, redirect: str = CALLBACK) -> str:
    query = urlencode({"app_id": gw.app_id, "scope": "auth_base", "redirect_uri": redirect, "state": "c3RhdGU="})
    response = await gw.http.get(f"/oauth2/publicAppAuthorize.htm?{query}", headers={"X-Sandbox-User": user})
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(redirect + "?")
    back = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert back["app_id"] == gw.app_id and back["source"] == "alipay_wallet" and back["scope"] == "auth_base"
    assert back["state"] == "c3RhdGU="
    assert re.fullmatch(r"[0-9A-Za-z]{32}", back["auth_code"])
    return back["auth_code"]


async def token(gw: Gateway, code: str) -> Reply:
    """Spec §2 step 3: grant_type and code are top-level parameters, signed with the rest."""
    params = gw.common("alipay.system.oauth.token")
    params.update({"grant_type": "authorization_code", "code": code})
    assert "biz_content" not in params
    params["sign"] = rsa2_sign(gw.app_key, string_to_sign(params))
    return read_token_reply(await gw.send(params), gw)


def read_token_reply(response: httpx.Response, gw: Gateway) -> Reply:
    """An error comes as a top-level error_response with an empty sign (nothing to verify)."""
    document = json.loads(response.text)
    if "error_response" in document:
        assert document["sign"] == "" and list(document) == ["error_response", "sign"]
        return Reply(response.text, "error_response", document["error_response"], "", "")
    return read_reply(response, "alipay.system.oauth.token", gw.gateway_key)


async def create(gw: Gateway, otn: str, amount: str = "23.00", **buyer: str) -> Reply:
    biz = {"out_trade_no": otn, "total_amount": amount, "subject": "Store QR", **buyer}
    return await gw.call("alipay.trade.create", biz, notify_url=NOTIFY_URL)


async def trade_pay(gw: Gateway, trade_no: str, user: str = "alice", **options: Any) -> dict[str, Any]:
    response = await gw.http.post("/sandbox/bridge/alipay", json={"tradeNO": trade_no, "user": user, **options})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_string_to_sign_of_the_token_call_keeps_code_and_grant_type_top_level(gw: Gateway) -> None:
    params = gw.common("alipay.system.oauth.token")
    params.update({"grant_type": "authorization_code", "code": "abc"})
    assert string_to_sign(params).split("&")[:4] == [
        f"app_id={gw.app_id}",
        "charset=utf-8",
        "code=abc",
        "format=JSON",
    ]


@pytest.mark.parametrize("mode", ["user_id", "open_id", "both"])
async def test_token_answers_the_ids_of_the_id_mode(open_gateway: Open, mode: str) -> None:
    gw = await open_gateway(alipay_id_mode=mode)
    reply = await token(gw, await auth_code(gw, "alice"))
    assert reply.key == "alipay_system_oauth_token_response" and reply.sign
    assert "code" not in reply.obj  # the success body carries no code 10000
    assert reply.obj["access_token"] and reply.obj["expires_in"] == 3600
    assert ("user_id" in reply.obj) == (mode != "open_id")
    assert ("open_id" in reply.obj) == (mode != "user_id")
    if "user_id" in reply.obj:
        assert re.fullmatch(r"2088\d{12}", reply.obj["user_id"])
    if "open_id" in reply.obj:
        assert not reply.obj["open_id"].isdigit() and len(reply.obj["open_id"]) <= 128
        again = await token(gw, await auth_code(gw, "alice"))
        assert again.obj["open_id"] == reply.obj["open_id"]  # stable per (app, user)


async def test_bad_used_and_expired_codes_answer_isv_code_invalid_unsigned(gw: Gateway) -> None:
    code = await auth_code(gw)
    assert (await token(gw, code)).obj.get("access_token")
    for bad in (code, "not-a-code"):
        reply = await token(gw, bad)
        assert reply.key == "error_response" and reply.sign == ""
        assert (reply.obj["code"], reply.obj["sub_code"]) == ("40002", "isv.code-invalid")
    late = await auth_code(gw)
    gw.clock.advance(301)
    assert (await token(gw, late)).obj["sub_code"] == "isv.code-invalid"


async def test_the_token_call_is_signature_checked(gw: Gateway) -> None:
    params = gw.common("alipay.system.oauth.token")
    params.update({"grant_type": "authorization_code", "code": await auth_code(gw)})
    params["sign"] = rsa2_sign(gw.app_key, string_to_sign({**params, "code": "other"}))
    reply = read_token_reply(await gw.send(params), gw)
    assert reply.obj["sub_code"] == "isv.invalid-signature"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"scope": "auth_base", "redirect_uri": "https://evil.example.com/q"}, "isv.invalid-redirect-uri"),
        ({"scope": "auth_zhima", "redirect_uri": CALLBACK}, "isv.invalid-scope"),
        ({"scope": "auth_base", "redirect_uri": CALLBACK, "app_id": "2021009999999999"}, "isv.invalid-app-id"),
    ],
)
async def test_authorize_refusals(gw: Gateway, query: dict[str, str], code: str) -> None:
    params = {"app_id": gw.app_id, **query}
    response = await gw.http.get("/oauth2/publicAppAuthorize.htm?" + urlencode(params))
    assert response.status_code == 200 and "location" not in response.headers
    assert f"data-errcode='{code}'" in response.text


async def test_create_binds_the_trade_to_the_buyer_and_tradepay_pays_it(open_gateway: Open) -> None:
    gw = await open_gateway(alipay_id_mode="open_id")
    open_id = (await token(gw, await auth_code(gw, "alice"))).obj["open_id"]
    created = await create(gw, "SBXAJ0001", buyer_open_id=open_id)
    assert created.code == "10000" and created.obj["out_trade_no"] == "SBXAJ0001"
    trade_no = created.obj["trade_no"]
    assert re.fullmatch(r"\d{28}", trade_no)
    waiting = await gw.call("alipay.trade.query", {"out_trade_no": "SBXAJ0001"})
    assert waiting.obj["trade_status"] == "WAIT_BUYER_PAY" and waiting.obj["buyer_open_id"] == open_id
    assert (await create(gw, "SBXAJ0001", buyer_open_id=open_id)).obj["trade_no"] == trade_no  # same params

    stranger = await trade_pay(gw, trade_no, user="mallory")
    assert stranger["callback"]["resultCode"] == "4000" and "BUYER_NOT_MATCH" in stranger["memo"]
    paid = await trade_pay(gw, trade_no)
    assert paid["callback"] == {"resultCode": "9000", "memo": "", "result": "", "callbackUrl": None}
    assert paid["trade_status"] == "TRADE_SUCCESS"
    await gw.advance(0)
    [form] = gw.receiver.forms()
    assert form["trade_status"] == "TRADE_SUCCESS" and form["buyer_open_id"] == open_id
    assert "buyer_id" not in form and gw.verify_notification(form)
    queried = await gw.call("alipay.trade.query", {"out_trade_no": "SBXAJ0001"})
    assert queried.obj["trade_status"] == "TRADE_SUCCESS"
    assert (await create(gw, "SBXAJ0001", buyer_open_id=open_id)).sub_code == "ACQ.TRADE_HAS_SUCCESS"
    refund = await gw.call("alipay.trade.refund", {"out_trade_no": "SBXAJ0001", "refund_amount": "23.00"})
    assert refund.code == "10000" and refund.obj["refund_fee"] == "23.00"


async def test_create_refusals(open_gateway: Open) -> None:
    gw = await open_gateway(alipay_id_mode="both")
    ids = (await token(gw, await auth_code(gw, "alice"))).obj
    no_buyer = await create(gw, "SBXAJ0002")
    assert (no_buyer.sub_code, no_buyer.obj["sub_msg"]) == ("ACQ.INVALID_PARAMETER", "参数无效:买家不能为空")
    foreign = open_id_for(gw.ctx, "2021009999999999", "alice")  # alice in another app
    assert (await create(gw, "SBXAJ0002", buyer_open_id=foreign)).sub_code == "ACQ.INVALID_PARAMETER"
    assert (await create(gw, "SBXAJ0002", buyer_id="2088000000009999")).sub_code == "ACQ.INVALID_PARAMETER"
    seller = gw.ctx.keys.alipay.seller_id
    assert (await create(gw, "SBXAJ0002", buyer_id=seller)).sub_code == "ACQ.BUYER_SELLER_EQUAL"
    assert (await create(gw, "SBXAJ0002", buyer_id=ids["user_id"])).code == "10000"
    changed = await create(gw, "SBXAJ0002", "24.00", buyer_id=ids["user_id"])
    assert changed.sub_code == "ACQ.CONTEXT_INCONSISTENT"
    bob = (await token(gw, await auth_code(gw, "bob"))).obj
    assert (await create(gw, "SBXAJ0002", buyer_id=bob["user_id"])).sub_code == "ACQ.CONTEXT_INCONSISTENT"
    closed = await gw.call("alipay.trade.close", {"out_trade_no": "SBXAJ0002"})
    assert closed.code == "10000"
    assert (await create(gw, "SBXAJ0002", buyer_id=ids["user_id"])).sub_code == "ACQ.TRADE_HAS_CLOSE"
    assert (await trade_pay(gw, "20261120220019999999999999999"))["callback"]["resultCode"] == "4000"


async def test_jsapi_pay_product_code_can_be_enforced(open_gateway: Open) -> None:
    gw = await open_gateway(alipay_require_jsapi_pay=True, alipay_id_mode="user_id")
    user_id = (await token(gw, await auth_code(gw))).obj["user_id"]
    assert (await create(gw, "SBXAJ0003", buyer_id=user_id)).sub_code == "ACQ.ACCESS_FORBIDDEN"
    wrong_op = await create(gw, "SBXAJ0003", buyer_id=user_id, product_code="JSAPI_PAY", op_app_id="1")
    assert wrong_op.sub_code == "ACQ.INVALID_PARAMETER"
    ok = await create(gw, "SBXAJ0003", buyer_id=user_id, product_code="JSAPI_PAY", op_app_id=gw.app_id)
    assert ok.code == "10000"


async def test_cancel_fail_and_lying_result_codes(gw: Gateway) -> None:
    user_id = (await token(gw, await auth_code(gw))).obj["user_id"]
    trade_no = (await create(gw, "SBXAJ0004", buyer_id=user_id)).obj["trade_no"]
    assert (await trade_pay(gw, trade_no, choice="cancel"))["callback"]["resultCode"] == "6001"
    assert (await trade_pay(gw, trade_no, choice="fail"))["callback"]["resultCode"] == "4000"
    waiting = await gw.call("alipay.trade.query", {"out_trade_no": "SBXAJ0004"})
    assert waiting.obj["trade_status"] == "WAIT_BUYER_PAY"  # the same buyer may still pay
    for n, (quirk, code) in enumerate([("8000", "8000"), ("6004", "6004"), ("no_callback", None)]):
        otn = f"SBXAJ001{n}"
        trade = (await create(gw, otn, buyer_id=user_id)).obj["trade_no"]
        answer = await trade_pay(gw, trade, quirk=quirk)
        assert (answer["callback"] or {}).get("resultCode") == code
        assert (await gw.call("alipay.trade.query", {"out_trade_no": otn})).obj["trade_status"] == "TRADE_SUCCESS"


async def test_notify_dropped_or_delayed(gw: Gateway) -> None:
    user_id = (await token(gw, await auth_code(gw))).obj["user_id"]
    dropped = (await create(gw, "SBXAJ0020", buyer_id=user_id)).obj["trade_no"]
    await trade_pay(gw, dropped, notify="drop")
    delayed = (await create(gw, "SBXAJ0021", buyer_id=user_id)).obj["trade_no"]
    await trade_pay(gw, delayed, notify="delay", notify_delay_s=10)
    await gw.advance(9)
    assert gw.receiver.forms() == []
    await gw.advance(1)
    assert [f["out_trade_no"] for f in gw.receiver.forms()] == ["SBXAJ0021"]


def test_a_state_file_of_an_older_sandbox_gains_the_buyer_open_id_column(tmp_path: Path) -> None:
    import sqlite3

    from pos_app.sandbox.alipay import store as db

    old_ddl = db.ALIPAY_DDL.replace(",\n    buyer_open_id TEXT NOT NULL DEFAULT ''", "")
    assert old_ddl != db.ALIPAY_DDL
    conn = sqlite3.connect(tmp_path / "sandbox.sqlite3")
    conn.row_factory = sqlite3.Row
    conn.executescript(old_ddl)

    def columns() -> set[str]:
        return {row["name"] for row in conn.execute("PRAGMA table_info(alipay_trades)")}

    assert "buyer_open_id" not in columns()
    db.add_missing_columns(conn)
    db.add_missing_columns(conn)  # idempotent
    assert "buyer_open_id" in columns()
