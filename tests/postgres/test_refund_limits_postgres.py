"""Daily refund limits on PostgreSQL: two refunds of one store at once cannot both pass the limit
(the reservation takes the store's advisory lock)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pos_app.api.schemas import CreateRefund
from pos_app.config import load_settings
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.approvals import RefundLimitExceeded
from pos_app.sandbox.demo import init_demo_profile
from tests.contract.engine.conftest import APPROVAL, STORE, TERMINAL, make_rig, micropay_req, new_trade_no

pytestmark = pytest.mark.postgres


async def test_two_refunds_at_once_cannot_both_pass_the_store_limit(pg_database: str, tmp_path: Path) -> None:
    settings = load_settings(init_demo_profile(tmp_path / "profile").config)
    settings.engine.refund_limit_store_fen = 1500
    rig = make_rig(settings, database_url=pg_database)
    try:
        paid = []
        for _ in range(2):
            code = await rig.authcode(Channel.ALIPAY.value)
            view = await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(code, 1000))
            assert view.state == PaymentState.PAID
            paid.append(view.out_trade_no)
        requests = [
            CreateRefund(out_refund_no=new_trade_no("R"), amount_fen=1000, operator="Ann", **APPROVAL) for _ in paid
        ]
        results = await asyncio.gather(
            *(rig.engine.refunds.create_refund(TERMINAL, otn, req) for otn, req in zip(paid, requests, strict=True)),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, RefundLimitExceeded)]
        assert len(refused) == 1, results
        await rig.engine.wait_idle()
    finally:
        await rig.engine.aclose()
        await rig.sandbox.aclose()
        for provider in rig.providers.values():
            await provider.aclose()
        rig.ledger.dispose()
