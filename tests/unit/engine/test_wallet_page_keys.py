"""The pages' own tokens: OAuth state bound to (token, wallet, time), the sealed store ticket, the
result MAC. Each forgery, swap or expiry is refused."""

from __future__ import annotations

import time

from pos_app.engine.page_keys import STATE_TTL_S, PageKeys, Wallet

TOKEN, OTHER = "A" * 32, "B" * 32


def test_state_is_wechat_safe_and_checks_out() -> None:
    keys = PageKeys(b"k" * 32)
    state = keys.make_state(TOKEN, Wallet.WECHAT)
    assert state.isascii() and state.isalnum() and len(state) <= 128
    assert keys.check_state(TOKEN, Wallet.WECHAT, state)


def test_state_refused_for_another_token_wallet_key_or_edit() -> None:
    keys = PageKeys(b"k" * 32)
    state = keys.make_state(TOKEN, Wallet.WECHAT)
    assert not keys.check_state(OTHER, Wallet.WECHAT, state)
    assert not keys.check_state(TOKEN, Wallet.ALIPAY, state)
    assert not PageKeys(b"x" * 32).check_state(TOKEN, Wallet.WECHAT, state)
    flipped = state[:-1] + ("0" if state[-1] != "0" else "1")
    assert not keys.check_state(TOKEN, Wallet.WECHAT, flipped)
    assert not keys.check_state(TOKEN, Wallet.WECHAT, "")
    assert not keys.check_state(TOKEN, Wallet.WECHAT, state + "0")


def test_state_expires() -> None:
    keys = PageKeys(b"k" * 32)
    then = time.time() - STATE_TTL_S - 5
    state = keys.make_state(TOKEN, Wallet.ALIPAY, now=then)
    assert keys.check_state(TOKEN, Wallet.ALIPAY, state, now=then + 1)
    assert not keys.check_state(TOKEN, Wallet.ALIPAY, state)


def test_ticket_hides_and_binds_the_payer() -> None:
    keys = PageKeys(b"k" * 32)
    ticket = keys.seal_ticket(TOKEN, Wallet.WECHAT, "oPayer123")
    assert "oPayer123" not in ticket
    assert keys.open_ticket(TOKEN, ticket) == (Wallet.WECHAT, "oPayer123")
    assert keys.open_ticket(OTHER, ticket) is None  # another store code
    assert keys.open_ticket(TOKEN, ticket[:-2] + "AA") is None
    assert keys.open_ticket(TOKEN, "not-a-ticket-at-all-really") is None
    old = keys.seal_ticket(TOKEN, Wallet.WECHAT, "oPayer123", now=time.time() - STATE_TTL_S - 5)
    assert keys.open_ticket(TOKEN, old) is None


def test_result_mac_is_per_token_and_order() -> None:
    keys = PageKeys(b"k" * 32)
    mac = keys.result_mac(TOKEN, "P1")
    assert len(mac) == 32
    assert mac != keys.result_mac(OTHER, "P1")
    assert mac != keys.result_mac(TOKEN, "P2")


def test_retry_state_is_its_own_and_cannot_be_made_from_a_first_one() -> None:
    keys = PageKeys(b"k" * 32)
    first = keys.make_state(TOKEN, Wallet.WECHAT)
    retry = keys.make_state(TOKEN, Wallet.WECHAT, retry=True)
    assert not keys.is_retry(first) and keys.is_retry(retry)
    assert keys.check_state(TOKEN, Wallet.WECHAT, retry)
    assert not keys.check_state(TOKEN, Wallet.WECHAT, first[0].upper() + first[1:])  # the letter is signed
