"""The customer's wallet: payment codes, native QR dispatch, and the /wallet page."""

from __future__ import annotations

import re

import pytest

from pos_app.sandbox.store import SandboxStore
from pos_app.sandbox.wallet import (
    AUTH_CODE_TTL_S,
    AuthCodeRejection,
    AuthCodeScenario,
    PayOutcome,
    PayRequest,
    consume_auth_code,
    issue_auth_code,
    native_prefixes,
    register_native_handler,
)
from tests.contract.sandbox.conftest import Sandbox

NOW = 1_800_000_000.0


@pytest.fixture
def store(tmp_path: object) -> SandboxStore:
    return SandboxStore(f"{tmp_path}/wallet.sqlite3")


def test_codes_have_the_wallets_formats(store: SandboxStore) -> None:
    for _ in range(50):
        assert re.fullmatch(r"1[0-5]\d{16}", issue_auth_code(store, "wechat", now=NOW))
        assert re.fullmatch(r"(2[5-9]|30)\d{14,22}", issue_auth_code(store, "alipay", now=NOW))
    with pytest.raises(ValueError):
        issue_auth_code(store, "unionpay", now=NOW)  # type: ignore[arg-type]


def test_a_code_is_used_once_and_lives_a_minute(store: SandboxStore) -> None:
    code = issue_auth_code(store, "wechat", password_seconds=7, balance_fen=500, user_cancels=True, now=NOW)
    scenario = consume_auth_code(store, "wechat", code, out_trade_no="ORDER000001", now=NOW + 1)
    assert isinstance(scenario, AuthCodeScenario)
    assert (scenario.password_seconds, scenario.balance_fen, scenario.user_cancels) == (7, 500, True)
    assert scenario.used_by == "ORDER000001" and scenario.buyer_id.startswith("oSbx")
    # The same order may ask again (a retried request); another order may not.
    again = consume_auth_code(store, "wechat", code, out_trade_no="ORDER000001", now=NOW + 2)
    assert isinstance(again, AuthCodeScenario) and again.buyer_id == scenario.buyer_id
    assert (
        consume_auth_code(store, "wechat", code, out_trade_no="ORDER000002", now=NOW + 2)
        is AuthCodeRejection.ALREADY_USED
    )
    # Wrong wallet, unknown, expired.
    assert consume_auth_code(store, "alipay", code, out_trade_no="ORDER000003", now=NOW) is AuthCodeRejection.UNKNOWN
    assert (
        consume_auth_code(store, "wechat", "100000000000000000", out_trade_no="X00001", now=NOW)
        is AuthCodeRejection.UNKNOWN
    )
    late = issue_auth_code(store, "alipay", now=NOW)
    assert (
        consume_auth_code(store, "alipay", late, out_trade_no="ORDER000004", now=NOW + AUTH_CODE_TTL_S)
        is AuthCodeRejection.EXPIRED
    )
    expired = issue_auth_code(store, "alipay", expired=True, now=NOW)
    assert consume_auth_code(store, "alipay", expired, out_trade_no="ORDER000005", now=NOW) is AuthCodeRejection.EXPIRED


def test_codes_survive_a_restart(tmp_path: object) -> None:
    path = f"{tmp_path}/wallet.sqlite3"
    first = SandboxStore(path)
    code = issue_auth_code(first, "wechat", balance_fen=1, now=NOW)
    first.close()
    second = SandboxStore(path)
    scenario = consume_auth_code(second, "wechat", code, out_trade_no="ORDER000001", now=NOW)
    assert isinstance(scenario, AuthCodeScenario) and scenario.balance_fen == 1


async def test_pay_dispatches_on_the_qr_prefix(sandbox: Sandbox) -> None:
    assert "weixin://wxpay/bizpayurl?pr=" in native_prefixes()
    seen: list[tuple[str, PayRequest]] = []

    def handler(ctx: object, qr: str, request: PayRequest) -> PayOutcome:
        seen.append((qr, request))
        return PayOutcome(ok=True, gateway="testpay", out_trade_no="T1", state="PAID", message="ok")

    register_native_handler("testpay://qr/", "testpay", handler)
    outcome = await sandbox.pay("testpay://qr/abc", after_s=5)
    assert outcome == {"ok": True, "gateway": "testpay", "out_trade_no": "T1", "state": "PAID", "message": "ok"}
    assert seen[0][0] == "testpay://qr/abc"
    assert seen[0][1].pay_at - seen[0][1].now == 5
    unknown = await sandbox.http.post("/sandbox/pay", json={"qr": "https://example.com/pay"})
    assert unknown.status_code == 404
    unknown_order = await sandbox.http.post("/sandbox/pay", json={"qr": "weixin://wxpay/bizpayurl?pr=nothing"})
    assert unknown_order.status_code == 404


async def test_control_endpoint_validates(sandbox: Sandbox) -> None:
    assert (await sandbox.http.post("/sandbox/authcodes", json={"channel": "cash"})).status_code == 422
    bad = await sandbox.http.post("/sandbox/authcodes", json={"channel": "wechat", "balance_fen": -1})
    assert bad.status_code == 422


async def test_wallet_page_by_hand(sandbox: Sandbox) -> None:
    page = await sandbox.http.get("/wallet")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'action="/wallet/authcode"' in page.text and 'action="/wallet/pay"' in page.text
    shown = await sandbox.http.post(
        "/wallet/authcode",
        data={"channel": "wechat", "password_seconds": "0", "balance_fen": "", "expired": "", "user_cancels": ""},
    )
    assert shown.status_code == 200
    code = re.search(r"payment code: (\d+)", shown.text)
    assert code is not None
    paid = await sandbox.wechat.codepay("SBX20261120W1", 100, code.group(1))
    assert paid.json()["trade_state"] == "SUCCESS"

    code_url = (await sandbox.wechat.native("SBX20261120W2", 100)).json()["code_url"]
    listed = await sandbox.http.get("/wallet")
    assert "SBX20261120W2" in listed.text and f'value="{code_url}"' in listed.text and "¥1.00" in listed.text
    result = await sandbox.http.post("/wallet/pay", data={"qr": code_url, "after_s": "0", "fail": ""})
    assert "SBX20261120W2" in result.text
    assert (await sandbox.wechat.query("SBX20261120W2")).json()["trade_state"] == "SUCCESS"
    assert "SBX20261120W2" not in (await sandbox.http.get("/wallet")).text  # paid: no longer waiting
    nothing = await sandbox.http.post("/wallet/pay", data={"qr": "hello", "after_s": "0", "fail": ""})
    assert nothing.status_code == 200 and "not a WeChat Pay or Alipay" in nothing.text
