"""Request authentication and response signing of the simulated WeChat Pay v3 gateway (spec §1, §2)."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest
import tomli_w
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from pos_app.config import Settings
from tests.contract.sandbox.conftest import (
    BASE_URL,
    UA,
    VECTORS,
    Sandbox,
    authorization,
    decrypt,
    request_message,
    sign_message,
    verify_signature,
)


def _vector() -> dict[str, Any]:
    vector: dict[str, Any] = json.loads(VECTORS.read_text("utf-8"))["wechatpay_request_signature"]
    return vector


def _vector_settings(demo_settings: Settings) -> Settings:
    """A sandbox whose merchant is the one of the official signing example."""
    vector = _vector()
    settings = demo_settings.model_copy(deep=True)
    source = settings.path(settings.sandbox.keys_dir)
    target = settings.home / "vector-sandbox-keys"
    shutil.copytree(source, target)
    key = serialization.load_pem_private_key(vector["private_key_pem"].encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    (target / "wechat_merchant_pub.pem").write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    facts = {
        "wechat": {
            "mchid": vector["mchid"],
            "appid": "wxd678efh567hg6787",
            "merchant_serial_no": vector["serial_no"],
            "pub_key_id": settings.wechatpay.platform_public_key_id,
        },
        "alipay": {"app_id": settings.alipay.app_id, "seller_id": settings.alipay.seller_id},
    }
    (target / "merchant.toml").write_text(tomli_w.dumps(facts), "utf-8")
    settings.sandbox.keys_dir = target
    return settings


async def test_the_official_signing_example_is_accepted_byte_for_byte(
    make_sandbox: Any, demo_settings: Settings, clock: Any
) -> None:
    vector = _vector()
    key = serialization.load_pem_private_key(vector["private_key_pem"].encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    body = vector["body"].encode("utf-8")
    message = request_message(vector["method"], vector["canonical_url"], vector["timestamp"], vector["nonce"], body)
    # The test's own signer reproduces the documented message and signature exactly.
    assert message == vector["message"].encode("utf-8")
    assert sign_message(key, message) == vector["signature"]

    box: Sandbox = await make_sandbox(_vector_settings(demo_settings))
    clock.set(int(vector["timestamp"]) + 10)
    headers = {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "User-Agent": UA,
        "Authorization": authorization(
            mchid=vector["mchid"],
            serial=vector["serial_no"],
            nonce=vector["nonce"],
            timestamp=vector["timestamp"],
            signature=vector["signature"],
        ),
    }
    response = await box.http.post(BASE_URL + vector["canonical_url"], content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["prepay_id"].startswith("wx")
    assert box.verify(response)

    # One changed byte in the body and the same signature no longer verifies.
    tampered = body.replace(b'"total":100', b'"total":101')
    response = await box.http.post(BASE_URL + vector["canonical_url"], content=tampered, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "SIGN_ERROR"


async def test_a_signed_request_gets_a_signed_answer(sandbox: Sandbox) -> None:
    response = await sandbox.wechat.native("SBX20261120A1", 1230)
    assert response.status_code == 200
    assert response.json()["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    assert response.headers["wechatpay-serial"] == sandbox.merchant.pub_key_id
    assert response.headers["wechatpay-signature-type"] == "WECHATPAY2-SHA256-RSA2048"
    assert response.headers["request-id"]
    assert abs(int(response.headers["wechatpay-timestamp"]) - sandbox.clock.now()) < 2
    assert len(response.headers["wechatpay-nonce"]) == 32
    assert verify_signature(sandbox.merchant.pay_public, response.headers, response.content)
    assert not verify_signature(sandbox.merchant.pay_public, response.headers, response.content + b" ")


@pytest.mark.parametrize("missing", ["Accept", "User-Agent"])
async def test_accept_and_user_agent_are_required(sandbox: Sandbox, missing: str) -> None:
    response = await sandbox.wechat.request(
        "GET",
        f"/v3/pay/transactions/out-trade-no/SBX20261120A1?mchid={sandbox.merchant.mchid}",
        headers={missing: None},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_REQUEST"
    assert "Accept" in response.json()["message"]


async def test_post_needs_a_json_content_type(sandbox: Sandbox) -> None:
    body = sandbox.wechat.order("SBX20261120A2", 100, notify_url="http://merchant.test/notify/wechat")
    response = await sandbox.wechat.request(
        "POST", "/v3/pay/transactions/native", body, headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_REQUEST"


async def _expect_sign_error(response: Any, message: str | None = None) -> dict[str, Any]:
    assert response.status_code == 401, response.text
    data: dict[str, Any] = response.json()
    assert data["code"] == "SIGN_ERROR"
    if message is not None:
        assert data["message"] == message
    assert response.headers["request-id"].endswith("-268443699")
    return data


async def test_missing_or_foreign_authorization_is_refused(sandbox: Sandbox) -> None:
    target = f"/v3/pay/transactions/out-trade-no/SBX20261120A1?mchid={sandbox.merchant.mchid}"
    await _expect_sign_error(await sandbox.wechat.request("GET", target, headers={"Authorization": None}))
    good = await sandbox.wechat.request("GET", target)
    assert good.status_code == 404  # authenticated, the order just does not exist
    other_scheme = good.request.headers["authorization"].replace("WECHATPAY2-SHA256-RSA2048", "Bearer", 1)
    await _expect_sign_error(await sandbox.wechat.request("GET", target, headers={"Authorization": other_scheme}))
    no_nonce = good.request.headers["authorization"].replace("nonce_str=", "nonce=", 1)
    await _expect_sign_error(await sandbox.wechat.request("GET", target, headers={"Authorization": no_nonce}))


async def test_serial_must_be_the_merchant_certificate_in_uppercase_hex(sandbox: Sandbox) -> None:
    target = f"/v3/pay/transactions/out-trade-no/SBX20261120A1?mchid={sandbox.merchant.mchid}"
    decimal = str(int(sandbox.merchant.serial, 16))
    await _expect_sign_error(await sandbox.wechat.request("GET", target, serial=decimal), "商户证书序列号有误")
    lower = sandbox.merchant.serial.lower()
    await _expect_sign_error(await sandbox.wechat.request("GET", target, serial=lower), "商户证书序列号有误")
    await _expect_sign_error(await sandbox.wechat.request("GET", target, mchid="1900000001"))


async def test_timestamp_window_is_five_minutes(sandbox: Sandbox) -> None:
    target = f"/v3/pay/transactions/out-trade-no/SBX20261120A1?mchid={sandbox.merchant.mchid}"
    now = int(sandbox.clock.now())
    assert (await sandbox.wechat.request("GET", target, timestamp=str(now - 299))).status_code == 404
    assert (await sandbox.wechat.request("GET", target, timestamp=str(now + 299))).status_code == 404
    await _expect_sign_error(await sandbox.wechat.request("GET", target, timestamp=str(now - 301)))
    await _expect_sign_error(await sandbox.wechat.request("GET", target, timestamp=str(now + 301)))
    await _expect_sign_error(await sandbox.wechat.request("GET", target, timestamp=str((now - 10) * 1000)))


async def test_signature_covers_method_raw_target_and_raw_body(sandbox: Sandbox) -> None:
    mchid = sandbox.merchant.mchid
    created = await sandbox.wechat.native("SBX|2026*1120", 500)
    assert created.status_code == 200
    encoded = f"/v3/pay/transactions/out-trade-no/SBX%7C2026%2A1120?mchid={mchid}"
    # Signed exactly as sent (percent-encoded): accepted.
    response = await sandbox.wechat.request("GET", encoded)
    assert response.status_code == 200, response.text
    assert response.json()["out_trade_no"] == "SBX|2026*1120"
    # Signed over the decoded path, or without the query: refused with the sign information.
    decoded = f"/v3/pay/transactions/out-trade-no/SBX|2026*1120?mchid={mchid}"
    data = await _expect_sign_error(await sandbox.wechat.request("GET", encoded, sign_target=decoded))
    assert data["detail"]["issue"] == "sign not match"
    assert data["detail"]["sign_information"]["url"] == encoded
    await _expect_sign_error(
        await sandbox.wechat.request("GET", encoded, sign_target="/v3/pay/transactions/out-trade-no/SBX%7C2026%2A1120")
    )
    # A body re-serialised after signing (spaces added) no longer matches.
    body = sandbox.wechat.order("SBX20261120B1", 100, notify_url="http://merchant.test/notify/wechat")
    compact = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    pretty = json.dumps(body, ensure_ascii=False).encode()
    await _expect_sign_error(
        await sandbox.wechat.request("POST", "/v3/pay/transactions/native", pretty, sign_body=compact)
    )
    # Signed with another key.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    await _expect_sign_error(await sandbox.wechat.request("POST", "/v3/pay/transactions/native", compact, key=other))
    # Nothing was created by the refused requests.
    assert (await sandbox.wechat.query("SBX20261120B1")).status_code == 404


async def test_error_answers_are_signed_and_carry_the_internal_code(sandbox: Sandbox) -> None:
    response = await sandbox.wechat.query("SBX20261120ZZ")
    assert response.status_code == 404
    assert response.json()["code"] == "ORDER_NOT_EXIST"
    assert response.headers["request-id"].endswith("-268512771")
    assert sandbox.verify(response)


async def test_four_byte_characters_and_merchant_mismatches_are_param_errors(sandbox: Sandbox) -> None:
    response = await sandbox.wechat.native("SBX20261120C1", 100, description="Coffee ☕ 😀")
    assert response.status_code == 400
    assert response.json()["code"] == "PARAM_ERROR"
    body = sandbox.wechat.order("SBX20261120C2", 100, notify_url="http://merchant.test/notify/wechat")
    body["mchid"] = "1900000002"
    response = await sandbox.wechat.request("POST", "/v3/pay/transactions/native", body)
    assert response.status_code == 400
    assert response.json()["code"] == "PARAM_ERROR"
    assert response.json()["detail"]["field"] == "mchid"
    body = sandbox.wechat.order("SBX20261120C3", 100, notify_url="http://merchant.test/notify/wechat")
    body["appid"] = "wx0000000000000000"
    response = await sandbox.wechat.request("POST", "/v3/pay/transactions/native", body)
    assert (response.status_code, response.json()["code"]) == (400, "APPID_MCHID_NOT_MATCH")
    response = await sandbox.wechat.request("GET", "/v3/pay/transactions/out-trade-no/SBX20261120C1")
    assert (response.status_code, response.json()["code"]) == (400, "PARAM_ERROR")


async def test_public_key_mode_has_no_platform_certificates(sandbox: Sandbox) -> None:
    response = await sandbox.wechat.request("GET", "/v3/certificates")
    assert response.status_code == 500
    assert response.json()["code"] == "SYSTEM_ERROR"
    assert "微信支付公钥" in response.json()["message"]


def _certs(box: Sandbox, response: Any) -> dict[str, x509.Certificate]:
    out = {}
    for item in response.json()["data"]:
        resource = item["encrypt_certificate"]
        assert resource["algorithm"] == "AEAD_AES_256_GCM"
        assert resource["associated_data"] == "certificate"
        cert = x509.load_pem_x509_certificate(decrypt(box.merchant.apiv3, resource))
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Tenpay.com sign"
        assert format(cert.serial_number, "X") == item["serial_no"]
        assert item["effective_time"].endswith("+08:00")
        out[item["serial_no"]] = cert
    return out


async def test_platform_certificate_mode_and_rotation(make_sandbox: Any, demo_settings: Settings) -> None:
    box: Sandbox = await make_sandbox(wechat_mode="platform_cert")
    response = await box.wechat.request("GET", "/v3/certificates")
    assert response.status_code == 200
    certs = _certs(box, response)
    assert len(certs) == 1
    # Bootstrap: the list is signed by a certificate it contains.
    serial = response.headers["wechatpay-serial"]
    key = certs[serial].public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert verify_signature(key, response.headers, response.content)

    # Rotation: a second certificate goes live; both are listed, the newest signs from now on.
    assert (await box.http.post("/sandbox/platform-certs")).status_code == 201
    response = await box.wechat.request("GET", "/v3/certificates")
    certs = _certs(box, response)
    assert len(certs) == 2 and serial in certs
    newest = response.headers["wechatpay-serial"]
    assert newest != serial
    other = await box.wechat.native("SBX20261120D1", 100)
    assert other.headers["wechatpay-serial"] == newest
    newest_key = certs[newest].public_key()
    assert isinstance(newest_key, rsa.RSAPublicKey)
    assert verify_signature(newest_key, other.headers, other.content)

    # A merchant migrating to the public key names it in Wechatpay-Serial and gets public-key signatures.
    migrating = await box.wechat.request(
        "GET",
        f"/v3/pay/transactions/out-trade-no/SBX20261120D1?mchid={box.merchant.mchid}",
        headers={"Wechatpay-Serial": box.merchant.pub_key_id},
    )
    assert migrating.status_code == 200
    assert box.verify(migrating)

    # The certificates persist in the keys dir: a restarted sandbox has the same two.
    again: Sandbox = await make_sandbox(wechat_mode="platform_cert")
    assert set(_certs(again, await again.wechat.request("GET", "/v3/certificates"))) == set(certs)
