"""The till journals a void under the number the engine gives the refund that pays it back, and
labels it by the engine's rule of which voids the gateway reverses: both written twice (the till may
not import the engine), kept equal here."""

from __future__ import annotations

import pytest

from pos_app.domain.routing import Channel, PaymentMode
from pos_app.engine.refunds import void_refund_no as engine_number
from pos_app.engine.store.models import Payment
from pos_app.engine.voids import reversible
from pos_app.terminal.voids import reversed_at_gateway, void_refund_no


@pytest.mark.parametrize("out_trade_no", ["P2611220001T0010001", "A" * 31, "B" * 32])
def test_same_number_as_the_engine(out_trade_no: str) -> None:
    assert void_refund_no(out_trade_no) == engine_number(out_trade_no)
    assert len(void_refund_no(out_trade_no)) <= 32


@pytest.mark.parametrize("channel", [Channel.WECHAT, Channel.ALIPAY])
@pytest.mark.parametrize("mode", list(PaymentMode))
def test_same_reversal_rule_as_the_engine(channel: Channel, mode: PaymentMode) -> None:
    payment = Payment(channel=channel.value, mode=mode.value)
    assert reversed_at_gateway(channel, mode) == reversible(payment)
