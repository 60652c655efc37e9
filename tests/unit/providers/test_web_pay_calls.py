"""The one-QR pages' gateway calls over httpx.MockTransport playing the gateways from the specs:
each request is checked against a signature string built here by hand (not by the client's own
signing code), and each answer maps to its result or error.

- WeChat ``sns/oauth2/access_token`` (code → openid; the AppSecret never in an error),
- WeChat JSAPI prepay (``/v3/pay/transactions/jsapi``, APIv3-signed, ``payer.openid``),
- Alipay ``alipay.system.oauth.token`` (``grant_type``/``code`` top level, no ``biz_content``),
- Alipay ``alipay.trade.create`` (``buyer_id`` for 2088… ids, ``buyer_open_id`` otherwise).
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from provider_test_helpers import FixedClock, rsa_sign, wechat_headers

from pos_app.engine.crypto.keys import parse_private_key
from pos_app.engine.providers.alipay.client import AlipayClient
from pos_app.engine.providers.base import ConfigurationError, OAuthCodeInvalid, OutcomeUnknownError
from pos_app.engine.providers.common import RetryPolicy
from pos_app.engine.providers.wechatpay.client import WechatPayClient
from pos_app.engine.providers.wechatpay.oauth import SnapshotUser, WechatOAuth
from pos_app.engine.providers.wechatpay.verifier import WechatPayVerifier

APIV3 = b"0123456789abcdefABCDEF0123456789"
PUB_ID = "PUB_KEY_ID_0119000000000000000000000000000001"
SECRET = "s3cr3tAppSecretValue0123456789ab"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


def _verify(key: rsa.RSAPublicKey, message: bytes, signature_b64: str) -> None:
    key.verify(base64.b64decode(signature_b64), message, padding.PKCS1v15(), hashes.SHA256())


# --- WeChat web OAuth --------------------------------------------------------------------------


def _oauth(handler: Any) -> WechatOAuth:
    return WechatOAuth(
        appid="wx8888888888888888",
        secret=SECRET,
        oauth_url="https://open.weixin.test",
        sns_url="https://api.weixin.test",
        transport=httpx.MockTransport(handler),
    )


def test_authorize_url_keeps_the_documented_parameter_order() -> None:
    url = _oauth(lambda _r: httpx.Response(500)).authorize_url("https://pay.example.com/q/tok/wechat", "wABC")
    assert url == (
        "https://open.weixin.test/connect/oauth2/authorize?appid=wx8888888888888888"
        "&redirect_uri=https%3A%2F%2Fpay.example.com%2Fq%2Ftok%2Fwechat&response_type=code&scope=snsapi_base"
        "&state=wABC#wechat_redirect"
    )
    assert SECRET not in url


async def test_code_is_exchanged_for_the_openid() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {"access_token": "AT", "expires_in": 7200, "openid": OPENID, "scope": "snsapi_base"}
        return httpx.Response(200, json=body)

    oauth = _oauth(handler)
    assert await oauth.openid("CODE1") == OPENID
    query = dict(request_query(seen[0]))
    assert seen[0].url.path == "/sns/oauth2/access_token"
    assert query == {
        "appid": "wx8888888888888888",
        "secret": SECRET,
        "code": "CODE1",
        "grant_type": "authorization_code",
    }
    await oauth.aclose()


def request_query(request: httpx.Request) -> list[tuple[str, str]]:
    return parse_qsl(request.url.query.decode())


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"errcode": 40029, "errmsg": "invalid code, rid: 641d8438-1"}, OAuthCodeInvalid),
        ({"errcode": 40163, "errmsg": "code been used, hints: [ req_id: x ]"}, OAuthCodeInvalid),
        ({"errcode": 40125, "errmsg": "invalid appsecret"}, ConfigurationError),
        ({"errcode": -1, "errmsg": "system error"}, OutcomeUnknownError),
        ({"openid": OPENID, "is_snapshotuser": 1}, SnapshotUser),
        ({"access_token": "AT"}, OutcomeUnknownError),
    ],
)
async def test_oauth_errors_branch_on_errcode_and_never_show_the_secret(answer: dict[str, Any], error: Any) -> None:
    oauth = _oauth(lambda _r: httpx.Response(200, json=answer))
    with pytest.raises(error) as info:
        await oauth.openid("CODE1")
    assert SECRET not in str(info.value)
    await oauth.aclose()


async def test_transport_errors_do_not_leak_the_secret_in_the_url() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    oauth = _oauth(handler)
    with pytest.raises(OutcomeUnknownError) as info:
        await oauth.openid("CODE1")
    assert SECRET not in str(info.value) and info.value.__cause__ is None
    await oauth.aclose()


# --- WeChat JSAPI prepay -----------------------------------------------------------------------


async def test_jsapi_prepay_is_signed_and_carries_the_payer(
    rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        raw = json.dumps({"prepay_id": "wx201410272009395522657a690389285100"}).encode()
        return httpx.Response(
            200, content=raw, headers=wechat_headers(rsa_keys[1], PUB_ID, raw, timestamp=int(clock().timestamp()))
        )

    verifier = WechatPayVerifier(
        apiv3_key=APIV3, public_key_id=PUB_ID, public_key=rsa_keys[1].public_key(), clock=clock
    )
    client = WechatPayClient(
        mchid="1900000109",
        appid="wx8888888888888888",
        merchant_serial_no="ABC",
        merchant_private_key=rsa_keys[0],
        apiv3_key=APIV3,
        verifier=verifier,
        base_url="http://wechat.test",
        transport=httpx.MockTransport(handler),
        clock=clock,
        retry=RetryPolicy.instant(3),
    )
    expires = clock() + timedelta(minutes=10)
    prepay = await client.create_jsapi(
        out_trade_no="P1", amount_fen=2300, subject="Noodles", notify_url="https://pay.example.com/notify/wechatpay",
        expires_at=expires, openid=OPENID, payer_ip="203.0.113.9",
    )  # fmt: skip
    assert prepay == "wx201410272009395522657a690389285100"
    request = seen[0]
    body = json.loads(request.content)
    assert body["payer"] == {"openid": OPENID} and body["appid"] == "wx8888888888888888"
    assert body["amount"] == {"total": 2300, "currency": "CNY"} and body["mchid"] == "1900000109"
    assert body["scene_info"] == {"payer_client_ip": "203.0.113.9"}
    # The Authorization header, checked by hand over METHOD\nURL\nTS\nNONCE\nBODY\n (wechatpay-v3.md §1).
    auth = request.headers["Authorization"]
    fields = dict(part.split("=", 1) for part in auth.split(" ", 1)[1].split(","))
    fields = {k: v.strip('"') for k, v in fields.items()}
    message = (
        f"POST\n/v3/pay/transactions/jsapi\n{fields['timestamp']}\n{fields['nonce_str']}\n".encode()
        + request.content
        + b"\n"
    )
    _verify(rsa_keys[0].public_key(), message, fields["signature"])
    # The bridge parameters of that prepay, checked by hand too (spec jsapi §4).
    pay = client.bridge_pay(prepay).as_bridge()
    line = f"{pay['appId']}\n{pay['timeStamp']}\n{pay['nonceStr']}\n{pay['package']}\n".encode()
    _verify(rsa_keys[0].public_key(), line, pay["paySign"])
    assert pay["timeStamp"] == str(int(clock().timestamp()))
    await client.aclose()


# --- Alipay --------------------------------------------------------------------------------------


def _alipay(vectors: dict[str, Any], gateway_key: rsa.RSAPrivateKey, clock: FixedClock, handler: Any) -> AlipayClient:
    return AlipayClient(
        app_id="2014072300007148",
        app_private_key=parse_private_key(vectors["alipay_request_signature"]["private_key_pem"]),
        alipay_public_key=gateway_key.public_key(),
        gateway="https://openapi.alipay.test/gateway.do",
        transport=httpx.MockTransport(handler),
        clock=clock,
        retry=RetryPolicy.instant(1),
    )


def _signed_answer(key: rsa.RSAPrivateKey, method: str, obj: dict[str, Any]) -> httpx.Response:
    inner = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    name = method.replace(".", "_") + "_response"
    text = f'{{"{name}":{inner},"sign":"{rsa_sign(key, inner.encode())}"}}'
    return httpx.Response(200, content=text.encode(), headers={"Content-Type": "application/json;charset=utf-8"})


def _form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


def _hand_sign_content(form: dict[str, str]) -> str:
    return "&".join(f"{k}={form[k]}" for k in sorted(form) if k != "sign" and form[k] != "")


async def test_oauth_token_sends_code_top_level_and_reads_the_open_id(
    vectors: dict[str, Any], rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock
) -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(_form(request))
        obj = {"open_id": "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5", "access_token": "x", "expires_in": 3600}
        return _signed_answer(rsa_keys[1], "alipay.system.oauth.token", obj)

    client = _alipay(vectors, rsa_keys[1], clock, handler)
    assert (
        await client.oauth_token("ca34ea491e7146cc87d25fca24c4cD11")
        == "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5"
    )
    form = seen[0]
    assert "biz_content" not in form
    assert (form["grant_type"], form["code"], form["method"]) == (
        "authorization_code", "ca34ea491e7146cc87d25fca24c4cD11", "alipay.system.oauth.token",
    )  # fmt: skip
    content = _hand_sign_content(form)
    assert content.startswith("app_id=2014072300007148&charset=utf-8&code=ca34ea491e7146cc87d25fca24c4cD11&")
    assert "&grant_type=authorization_code&method=alipay.system.oauth.token&sign_type=RSA2&timestamp=" in content
    app_key = parse_private_key(vectors["alipay_request_signature"]["private_key_pem"])
    _verify(app_key.public_key(), content.encode(), form["sign"])
    await client.aclose()


async def test_oauth_token_user_id_only_and_unsigned_code_invalid(
    vectors: dict[str, Any], rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock
) -> None:
    answers = iter(
        [
            _signed_answer(
                rsa_keys[1], "alipay.system.oauth.token", {"user_id": "2088102150477652", "access_token": "x"}
            ),
            httpx.Response(
                200,
                content=b'{"error_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.code-invalid",'
                b'"sub_msg":"x"},"sign":""}',
            ),
        ]
    )
    client = _alipay(vectors, rsa_keys[1], clock, lambda _r: next(answers))
    assert await client.oauth_token("c1") == "2088102150477652"
    with pytest.raises(OAuthCodeInvalid):
        await client.oauth_token("c2")
    await client.aclose()


@pytest.mark.parametrize(
    ("buyer", "field"),
    [("2088102150477652", "buyer_id"), ("074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5", "buyer_open_id")],
)
async def test_trade_create_binds_the_buyer(
    vectors: dict[str, Any], rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock, buyer: str, field: str
) -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(_form(request))
        obj = {"code": "10000", "msg": "Success", "out_trade_no": "P1", "trade_no": "2017032121001004070200176846"}
        return _signed_answer(rsa_keys[1], "alipay.trade.create", obj)

    client = _alipay(vectors, rsa_keys[1], clock, handler)
    trade_no = await client.create_for_buyer(
        out_trade_no="P1", amount_fen=2300, subject="Noodles", notify_url="https://pay.example.com/notify/alipay",
        expires_at=clock() + timedelta(minutes=10), buyer=buyer,
    )  # fmt: skip
    assert trade_no == "2017032121001004070200176846"
    form = seen[0]
    biz = json.loads(form["biz_content"])
    assert biz[field] == buyer and ({"buyer_id", "buyer_open_id"} - {field}).isdisjoint(biz)
    assert biz["total_amount"] == "23.00" and "product_code" not in biz
    assert form["notify_url"] == "https://pay.example.com/notify/alipay"
    app_key = parse_private_key(vectors["alipay_request_signature"]["private_key_pem"])
    _verify(app_key.public_key(), _hand_sign_content(form).encode(), form["sign"])
    await client.aclose()


def test_the_app_secret_in_httpx_request_logs_is_masked() -> None:
    from pos_app.engine.logging_setup import mask_secrets

    line = (
        "HTTP Request: GET https://api.weixin.qq.com/sns/oauth2/access_token?appid=wx8888888888888888"
        f'&secret={SECRET}&code=CODE1&grant_type=authorization_code "HTTP/1.1 200 OK"'
    )
    masked = mask_secrets(line)
    assert SECRET not in masked and "&code=CODE1&grant_type=authorization_code" in masked
