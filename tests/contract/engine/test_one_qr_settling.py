"""One-QR payments in the settling machinery: a page no wallet opened is closed by the engine alone
(no gateway has the order) on expiry or cancel, with its status events; the ledger never asks a
gateway about it."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from pos_app.api.schemas import CancelPayment, CreatePayment
from pos_app.domain.routing import PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.engine.providers.web_pay import WebPayClients
from pos_app.engine.scope import Caller
from pos_app.engine.store.models import Attempt
from pos_app.engine.wiring import UseCases, build_use_cases

from .conftest import STORE, TERMINAL, Rig, new_trade_no


def _engine(rig: Rig) -> UseCases:
    # The pages' clients without OAuth: enough to create one-QR payments (no phone opens them here).
    web = WebPayClients(wechat=None, alipay=None, problem=None)
    return build_use_cases(rig.ledger, rig.providers, rig.settings, clock=rig.time, sleep=rig.sleep, web=web)


def _one_qr() -> CreatePayment:
    return CreatePayment(
        out_trade_no=new_trade_no(), amount_fen=1800, mode=PaymentMode.ONE_QR, subject="Dumplings", operator="bob"
    )


def _attempts(rig: Rig, otn: str) -> list[tuple[str, str, str | None]]:
    with Session(rig.ledger) as session:
        rows = session.exec(select(Attempt).where(Attempt.out_trade_no == otn)).all()
        return [(a.op, a.outcome, a.detail) for a in rows]


async def test_unopened_one_qr_closes_locally_on_expiry(rig: Rig) -> None:
    engine = _engine(rig)
    try:
        view = await engine.payments.create_payment(TERMINAL, STORE, _one_qr())
        assert (view.channel, view.state) == (None, PaymentState.AWAITING_SCAN)
        await engine.resolver.resolve_once()  # not expired: left alone
        assert (await engine.payments.get_payment(TERMINAL, view.out_trade_no)).state is PaymentState.AWAITING_SCAN
        await rig.step((rig.engine.context.timings.qr_lifetime + timedelta(seconds=1)).total_seconds())
        await engine.resolver.resolve_once()
        after = await engine.payments.get_payment(TERMINAL, view.out_trade_no)
        assert (after.state, after.channel) == (PaymentState.CLOSED, None)
        assert _attempts(rig, view.out_trade_no) == [("close", "closed", "unopened")]  # no gateway call
        events = await engine.events.events_since(Caller(TERMINAL, STORE), 0)
        states = [e.payment.state for e in events if e.payment.out_trade_no == view.out_trade_no]
        assert states == [PaymentState.AWAITING_SCAN, PaymentState.CLOSED]
    finally:
        await engine.aclose()


async def test_unopened_one_qr_cancel_is_immediate_and_repeats_are_the_same_payment(rig: Rig) -> None:
    engine = _engine(rig)
    try:
        request = _one_qr()
        view = await engine.payments.create_payment(TERMINAL, STORE, request)
        again = await engine.payments.create_payment(TERMINAL, STORE, request)
        assert again.code_url == view.code_url  # the same page for a repeated request
        cancelled = await engine.payments.cancel_payment(TERMINAL, view.out_trade_no, CancelPayment(operator="bob"))
        assert cancelled.state is PaymentState.CLOSED and cancelled.failure_reason
        assert cancelled.channel is None  # no wallet, no gateway order
    finally:
        await engine.aclose()


async def test_without_the_pages_one_qr_is_refused(rig: Rig) -> None:
    from pos_app.engine.errors import OneQrUnavailable

    try:
        await rig.engine.payments.create_payment(TERMINAL, STORE, _one_qr())
    except OneQrUnavailable as exc:
        assert "not set up" in exc.message
    else:
        raise AssertionError("a one-QR payment was created on an engine that cannot serve its page")
