"""The till translates what the domain, the journal, the scanner and the engine say at its edge: every
such message is listed for the catalog, and a message with values is translated before they are
filled in."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import pos_app
from pos_app import i18n
from pos_app.domain.errors import AmountError, PosError
from pos_app.domain.money import parse_amount
from pos_app.engine.providers.alipay import codes as alipay_codes
from pos_app.engine.providers.wechatpay import codes as wechat_codes
from pos_app.terminal.error_words import (
    DOMAIN_MESSAGES,
    ENGINE_MESSAGES,
    JOURNAL_MESSAGES,
    SCAN_MESSAGES,
    cashier_text,
    describe,
)

ROOT = Path(pos_app.__file__).parent
#: Exceptions that are bugs, not messages for a person.
NOT_FOR_PEOPLE = {"ValueError", "TypeError", "RuntimeError", "AssertionError", "KeyError"}


@pytest.fixture(autouse=True)
def english_afterwards() -> Iterator[None]:
    yield
    i18n.set_language("en")


def raised_messages(package: str) -> set[str]:
    """The literal first argument of every ``raise SomeError("...")`` and every ``default_message``."""
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                call, name = node.exc, getattr(node.exc.func, "id", "")
                if name not in NOT_FOR_PEOPLE and call.args and isinstance(call.args[0], ast.Constant):
                    found.add(str(call.args[0].value))
            default = isinstance(node, ast.Assign) and any(
                getattr(t, "id", "") == "default_message" for t in node.targets
            )
            if default and isinstance(node.value, ast.Constant):  # type: ignore[union-attr]
                found.add(str(node.value.value))  # type: ignore[union-attr]
    return found


@pytest.mark.parametrize("package", ["domain", "journal", "scan"])
def test_every_message_a_cashier_may_read_is_listed(package: str) -> None:
    listed = {*DOMAIN_MESSAGES, *JOURNAL_MESSAGES, *SCAN_MESSAGES}
    assert raised_messages(package) - listed == set()


def test_every_gateway_reason_the_engine_passes_on_is_listed() -> None:
    reasons = {*wechat_codes.DEFINITE_REASONS.values(), *alipay_codes.DEFINITE_REASONS.values()}
    assert reasons | {wechat_codes.GENERIC_REFUSAL} <= set(ENGINE_MESSAGES)


def test_messages_with_values_are_translated_then_filled_in() -> None:
    with pytest.raises(AmountError) as refused:
        parse_amount("100001", max_fen=10_000_000)
    assert refused.value.message == "¥100,001.00 is over the per-sale limit of ¥100,000.00."
    assert cashier_text(refused.value) == refused.value.message
    i18n.set_language("zh_CN")
    assert cashier_text(refused.value) == "¥100,001.00 超过单笔限额 ¥100,000.00。"
    words = describe(refused.value)
    assert (words.title, words.text) == ("请检查输入", "¥100,001.00 超过单笔限额 ¥100,000.00。")
    # An engine message the catalog does not know is shown as the engine wrote it.
    assert cashier_text(PosError("Gateway said something new")) == "Gateway said something new"
    assert describe(PosError("Insufficient balance — ask the customer to switch card or pay another way")).text == (
        "余额不足——请顾客换卡或换一种方式付款"
    )
