"""TRANSACTION.SUCCESS / REFUND.SUCCESS callbacks: signed headers, AES-256-GCM resource, retries (spec §2, §3)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.contract.sandbox.conftest import NOTIFY_URL, START, Sandbox, decrypt, verify_signature


async def _pay(box: Sandbox, out_trade_no: str, total: int) -> None:
    code_url = (await box.wechat.native(out_trade_no, total)).json()["code_url"]
    assert (await box.pay(code_url))["ok"]


async def test_payment_notification_is_signed_and_decrypts_to_the_transaction(sandbox: Sandbox) -> None:
    await _pay(sandbox, "SBX20261120P1", 2500)
    await sandbox.advance(0)
    assert len(sandbox.receiver.received) == 1
    headers, body = sandbox.receiver.received[0]
    assert headers["wechatpay-serial"] == sandbox.merchant.pub_key_id
    assert headers["wechatpay-signature-type"] == "WECHATPAY2-SHA256-RSA2048"
    assert headers["content-type"].startswith("application/json")
    assert int(headers["wechatpay-timestamp"]) == int(START.timestamp())
    assert verify_signature(sandbox.merchant.pay_public, headers, body)

    envelope = json.loads(body)
    assert envelope["event_type"] == "TRANSACTION.SUCCESS"
    assert envelope["resource_type"] == "encrypt-resource"
    assert envelope["summary"] == "支付成功"
    assert re.fullmatch(r"[0-9a-f-]{36}", envelope["id"])
    assert envelope["create_time"] == START.isoformat()
    resource = envelope["resource"]
    assert resource["algorithm"] == "AEAD_AES_256_GCM"
    assert resource["original_type"] == "transaction" and resource["associated_data"] == "transaction"
    assert len(resource["nonce"]) == 12
    transaction = json.loads(decrypt(sandbox.merchant.apiv3, resource))
    assert transaction == (await sandbox.wechat.query("SBX20261120P1")).json()
    assert transaction["trade_state"] == "SUCCESS" and transaction["amount"]["total"] == 2500

    # The resource is authenticated: a flipped byte, a wrong key or a wrong AAD all fail.
    sealed = bytearray(base64.b64decode(resource["ciphertext"]))
    sealed[3] ^= 0x01
    flipped = dict(resource, ciphertext=base64.b64encode(bytes(sealed)).decode())
    for bad_key, bad_resource in (
        (sandbox.merchant.apiv3, flipped),
        (b"0" * 32, resource),
        (sandbox.merchant.apiv3, dict(resource, associated_data="refund")),
    ):
        with pytest.raises(InvalidTag):
            decrypt(bad_key, bad_resource)


async def test_refund_notification_content(sandbox: Sandbox) -> None:
    await _pay(sandbox, "SBX20261120P2", 900)
    await sandbox.advance(0)
    refund = (await sandbox.wechat.refund("SBX20261120P2", "RF20261120P2A", 400, 900, notify_url=NOTIFY_URL)).json()
    await sandbox.advance(5)
    headers, body = sandbox.receiver.received[-1]
    assert verify_signature(sandbox.merchant.pay_public, headers, body)
    envelope = json.loads(body)
    assert envelope["event_type"] == "REFUND.SUCCESS"
    assert envelope["resource"]["original_type"] == "refund"
    data = json.loads(decrypt(sandbox.merchant.apiv3, envelope["resource"]))
    assert data["out_refund_no"] == "RF20261120P2A" and data["refund_id"] == refund["refund_id"]
    assert data["refund_status"] == "SUCCESS" and data["out_trade_no"] == "SBX20261120P2"
    assert data["amount"] == {"total": 900, "refund": 400, "payer_total": 900, "payer_refund": 400}
    assert data["mchid"] == sandbox.merchant.mchid


async def test_unacknowledged_notification_is_retried_and_resigned(sandbox: Sandbox) -> None:
    sandbox.receiver.answers = [500, 404]  # then 200
    await _pay(sandbox, "SBX20261120P3", 100)
    await sandbox.advance(0)
    assert len(sandbox.receiver.received) == 1
    await sandbox.advance(14)
    assert len(sandbox.receiver.received) == 1
    await sandbox.advance(1)  # 15 s after the first try
    assert len(sandbox.receiver.received) == 2
    await sandbox.advance(15)  # 15 s after the second
    assert len(sandbox.receiver.received) == 3
    await sandbox.advance(3600)
    assert len(sandbox.receiver.received) == 3  # acknowledged: no more
    stamps = [int(h["wechatpay-timestamp"]) for h, _ in sandbox.receiver.received]
    assert stamps == [int(START.timestamp()), int(START.timestamp()) + 15, int(START.timestamp()) + 30]
    bodies = {b for _, b in sandbox.receiver.received}
    assert len(bodies) == 1  # the same event each time
    for headers, body in sandbox.receiver.received:
        assert verify_signature(sandbox.merchant.pay_public, headers, body)
    assert [n["state"] for n in (await sandbox.http.get("/sandbox/notifications")).json()] == ["delivered"]


async def test_204_acknowledges(sandbox: Sandbox) -> None:
    sandbox.receiver.default = 204
    await _pay(sandbox, "SBX20261120P4", 100)
    await sandbox.advance(0)
    await sandbox.advance(100)
    assert len(sandbox.receiver.received) == 1


async def test_signtest_probes(make_sandbox: Any) -> None:
    box: Sandbox = await make_sandbox(signtest_probes=True)
    await _pay(box, "SBX20261120P5", 100)
    await box.advance(0)
    assert len(box.receiver.received) == 2
    (probe_headers, probe_body), (real_headers, real_body) = box.receiver.received
    assert probe_headers["wechatpay-signature"].startswith("WECHATPAY/SIGNTEST/")
    assert not verify_signature(box.merchant.pay_public, probe_headers, probe_body)
    assert verify_signature(box.merchant.pay_public, real_headers, real_body)


async def test_platform_certificate_mode_signs_callbacks_with_the_newest_certificate(make_sandbox: Any) -> None:
    box: Sandbox = await make_sandbox(wechat_mode="platform_cert")
    listing = (await box.wechat.request("GET", "/v3/certificates")).json()["data"]
    certs = {
        item["serial_no"]: x509.load_pem_x509_certificate(decrypt(box.merchant.apiv3, item["encrypt_certificate"]))
        for item in listing
    }
    await _pay(box, "SBX20261120P6", 100)
    await box.advance(0)
    headers, body = box.receiver.received[0]
    assert headers["wechatpay-serial"] in certs
    key = certs[headers["wechatpay-serial"]].public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert verify_signature(key, headers, body)
    assert not verify_signature(box.merchant.pay_public, headers, body)


async def test_codepay_and_failed_payments_send_nothing(sandbox: Sandbox) -> None:
    await sandbox.wechat.codepay("SBX20261120P7", 100, await sandbox.authcode())
    code_url = (await sandbox.wechat.native("SBX20261120P8", 100)).json()["code_url"]
    await sandbox.pay(code_url, fail="cancel")
    await sandbox.advance(60)
    assert sandbox.receiver.received == []


async def test_time_scale_from_the_settings_shortens_the_schedule(make_sandbox: Any) -> None:
    box: Sandbox = await make_sandbox(time_scale=60)
    box.receiver.answers = [500, 500, 500, 500]
    await _pay(box, "SBX20261120P9", 100)
    await box.advance(0)
    for gap in (15, 15, 30, 180):  # seconds of the real schedule, a sixtieth of it here
        before = len(box.receiver.received)
        await box.advance(gap / 60 - 0.01)
        assert len(box.receiver.received) == before
        await box.advance(0.02)
        assert len(box.receiver.received) == before + 1
    await box.advance(3600)
    assert len(box.receiver.received) == 5
