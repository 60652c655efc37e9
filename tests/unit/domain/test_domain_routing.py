"""Routing a scanned payment code to WeChat Pay or Alipay before any network call."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_app.domain.errors import AuthCodeError
from pos_app.domain.routing import Channel, mask_code, route_auth_code

digits = st.text(alphabet="0123456789")
wechat_codes = st.builds(lambda p, rest: f"1{p}{rest}", st.integers(0, 5), digits.filter(lambda d: len(d) == 16))
alipay_codes = st.builds(
    lambda p, rest: p + rest,
    st.sampled_from(["25", "26", "27", "28", "29", "30"]),
    st.integers(14, 22).flatmap(lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)),
)
noise = st.sampled_from(["", "\r", "\n", "\r\n", "\t", " ", "\u3000"])


@given(wechat_codes, noise, noise)
def test_wechat_codes(code: str, before: str, after: str) -> None:
    routed = route_auth_code(before + code + after)
    assert routed.channel is Channel.WECHAT
    assert routed.auth_code == code


@given(alipay_codes, noise, noise)
def test_alipay_codes(code: str, before: str, after: str) -> None:
    routed = route_auth_code(before + code + after)
    assert routed.channel is Channel.ALIPAY
    assert routed.auth_code == code


@given(wechat_codes)
def test_scanner_spaces_between_digit_groups_are_tolerated(code: str) -> None:
    spaced = " ".join(code[i : i + 4] for i in range(0, len(code), 4)) + "\r\n"
    assert route_auth_code(spaced).auth_code == code


@given(digits.filter(lambda d: 1 <= len(d) <= 30))
def test_everything_else_is_refused(code: str) -> None:
    is_wechat = len(code) == 18 and code[0] == "1" and code[1] in "012345"
    is_alipay = 16 <= len(code) <= 24 and code[:2] in {"25", "26", "27", "28", "29", "30"}
    if is_wechat or is_alipay:
        assert route_auth_code(code).channel is (Channel.WECHAT if is_wechat else Channel.ALIPAY)
    else:
        with pytest.raises(AuthCodeError):
            route_auth_code(code)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "Nothing was scanned"),
        ("\r\n", "Nothing was scanned"),
        ("https://example.com/qr", "not a payment code"),
        ("13456789012345678A", "not a payment code"),
        ("１３４５６７８９０１２３４５６７８", "not a payment code"),  # full-width digits are not a scan
        ("6212345678901234567", "UnionPay"),
        ("164567890123456789", "not a WeChat or Alipay"),  # 1 then 6: not a WeChat prefix
        ("2412345678901234", "not a WeChat or Alipay"),
        ("2512345678901", "not a WeChat or Alipay"),  # too short for Alipay
    ],
)
def test_refusals_are_explained(raw: str, reason: str) -> None:
    with pytest.raises(AuthCodeError, match=reason) as info:
        route_auth_code(raw)
    if len(raw) > 8 and raw.isdigit():
        assert raw not in info.value.message  # the full code never appears in a message


@given(st.one_of(wechat_codes, alipay_codes))
def test_masking_keeps_only_the_last_four(code: str) -> None:
    masked = mask_code(code)
    assert masked.endswith(code[-4:]) and set(masked[:-4]) == {"*"} and len(masked) == len(code)
    assert route_auth_code(code).masked == masked
