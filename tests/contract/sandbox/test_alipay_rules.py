"""Pure parts of the Alipay simulator: response text escaping and the time rules of open trades."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from pos_app.domain.china_time import CHINA_TZ
from pos_app.sandbox.alipay import rules
from pos_app.sandbox.alipay.model import Kind, Pending, Status, Trade, parse_timeout, parse_yuan
from pos_app.sandbox.alipay.signing import envelope, notify_sign_content, request_sign_content, response_text

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=CHINA_TZ)


def _waiting(pending: Pending, until: timedelta, expires: timedelta) -> Trade:
    return Trade(
        out_trade_no="T1",
        kind=Kind.PAY,
        status=Status.WAIT_BUYER_PAY,
        total_fen=100,
        subject="s",
        ordered_at=T0,
        expires_at=T0 + expires,
        trade_no="2026112022001000000000000001",
        created_at=T0,
        pending=pending,
        pending_until=T0 + until,
    )


def test_response_text_escapes_slashes_only_inside_strings_and_round_trips() -> None:
    obj = {"url": "https://qr.alipay.com/bax1", "odd": "a\\/b", "msg": "交易不存在"}
    text = response_text(obj)
    assert text == '{"url":"https:\\/\\/qr.alipay.com\\/bax1","odd":"a\\\\\\/b","msg":"交易不存在"}'
    assert json.loads(text) == obj


def test_envelope_splices_the_signed_text_verbatim_with_sign_last() -> None:
    text = envelope("alipay_trade_query_response", {"code": "10000", "msg": "Success"}, None)
    assert text == '{"alipay_trade_query_response":{"code":"10000","msg":"Success"}}'


def test_sign_contents_differ_only_by_sign_type() -> None:
    params = {"b": "2", "a": "1", "sign": "x", "sign_type": "RSA2", "empty": ""}
    assert request_sign_content(params) == "a=1&b=2&sign_type=RSA2"
    assert notify_sign_content(params) == "a=1&b=2"


def test_password_confirmed_before_the_timeout_pays() -> None:
    trade = _waiting(Pending.CONFIRM, timedelta(seconds=10), timedelta(minutes=15))
    assert rules.next_deadline(trade) == T0 + timedelta(seconds=10)
    assert rules.settle(trade, T0 + timedelta(seconds=9)) == []
    notices = rules.settle(trade, T0 + timedelta(seconds=30))
    assert [n.trade_status for n in notices] == [Status.TRADE_SUCCESS]
    assert trade.paid_at == T0 + timedelta(seconds=10) and trade.pending is None


def test_password_later_than_the_timeout_never_pays() -> None:
    trade = _waiting(Pending.CONFIRM, timedelta(minutes=20), timedelta(minutes=15))
    assert rules.next_deadline(trade) == T0 + timedelta(minutes=15)
    notices = rules.settle(trade, T0 + timedelta(minutes=30))
    assert [n.trade_status for n in notices] == [Status.TRADE_CLOSED]
    assert trade.paid_at is None and trade.closed_at == T0 + timedelta(minutes=15)


def test_unscanned_qr_expires_silently() -> None:
    trade = _waiting(Pending.CONFIRM, timedelta(0), timedelta(minutes=5))
    trade.status, trade.trade_no, trade.pending, trade.pending_until = Status.PRECREATED, None, None, None
    assert rules.settle(trade, T0 + timedelta(minutes=5)) == []
    assert trade.status == Status.TRADE_CLOSED and not trade.visible


def test_amount_and_timeout_parsing() -> None:
    assert [parse_yuan(x) for x in ("0.01", "88.8", "100000000.00", "12")] == [1, 8880, 10_000_000_000, 1200]
    assert [parse_yuan(x) for x in ("1.234", "-1", "01.00", "1e2", "", " 1")] == [None] * 6
    assert parse_timeout("90m") == timedelta(minutes=90)
    assert parse_timeout("15d") == timedelta(days=15)
    assert [parse_timeout(x) for x in ("16d", "0m", "1.5h", "2w")] == [None] * 4
