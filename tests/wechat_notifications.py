"""WeChat Pay TRANSACTION.SUCCESS notifications as the gateway sends them (spec §2/§3), signed and
encrypted with a demo profile's sandbox keys, and native orders awaiting them written into a ledger.

Shared by the multi-worker engine tests and ``tests/bench/bench_notify.py``.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from pos_app.config import Settings
from pos_app.domain.china_time import CHINA_TZ
from pos_app.engine.crypto.aead import encrypt_resource
from pos_app.engine.crypto.keys import load_private_key
from pos_app.engine.crypto.rsa import sign_sha256_rsa
from pos_app.engine.store.models import Payment


@dataclass(frozen=True)
class SignedNotification:
    event_id: str
    out_trade_no: str
    headers: dict[str, str]
    body: bytes

    def raw_request(self, host: str, path: str = "/notify/wechatpay") -> bytes:
        """The whole HTTP/1.1 request (keep-alive), as a load generator sends it."""
        head = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(self.body)}"]
        head += [f"{name}: {value}" for name, value in self.headers.items()]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + self.body


class WechatNotifier:
    """Builds notifications with the profile's sandbox gateway key (what the real gateway signs with)."""

    def __init__(self, settings: Settings) -> None:
        wx = settings.wechatpay
        self._wx = wx
        self._signer = load_private_key(settings.path(settings.sandbox.keys_dir) / "wechat_pay_private.pem")
        self._apiv3 = settings.path(wx.apiv3_key_file).read_bytes().strip()

    def paid(self, out_trade_no: str, amount_fen: int, *, transaction_id: str | None = None) -> SignedNotification:
        wx = self._wx
        now = datetime.now(CHINA_TZ)
        transaction = {
            "appid": wx.appid, "mchid": wx.mchid, "out_trade_no": out_trade_no,
            "transaction_id": transaction_id or f"4200{secrets.randbelow(10**24):024d}", "trade_type": "NATIVE",
            "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS", "attach": "",
            "success_time": now.isoformat(timespec="seconds"), "payer": {"openid": "oBench" + secrets.token_hex(8)},
            "amount": {"total": amount_fen, "payer_total": amount_fen, "currency": "CNY", "payer_currency": "CNY"},
        }  # fmt: skip
        nonce = secrets.token_hex(6)
        envelope = {
            "id": f"EV-{secrets.token_hex(12)}", "create_time": now.isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
            "resource": {
                "original_type": "transaction", "algorithm": "AEAD_AES_256_GCM", "associated_data": "transaction",
                "nonce": nonce,
                "ciphertext": encrypt_resource(self._apiv3, nonce, "transaction", json.dumps(transaction).encode()),
            },
        }  # fmt: skip
        body = json.dumps(envelope, ensure_ascii=False).encode()
        ts, header_nonce = str(int(time.time())), secrets.token_hex(16)
        signature = sign_sha256_rsa(self._signer, f"{ts}\n{header_nonce}\n".encode() + body + b"\n")
        headers = {
            "Content-Type": "application/json", "Wechatpay-Timestamp": ts, "Wechatpay-Nonce": header_nonce,
            "Wechatpay-Signature": signature, "Wechatpay-Serial": wx.platform_public_key_id,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048", "Request-ID": secrets.token_hex(8),
        }  # fmt: skip
        return SignedNotification(str(envelope["id"]), out_trade_no, headers, body)


def seed_native_orders(ledger: Engine, orders: Iterable[str], amount_fen: int, *, terminal_id: str = "T001") -> None:
    """Native orders awaiting a scan (with their code), written straight into a migrated ledger as the
    engine's create would leave them: many rows in one statement."""
    now = datetime.now(UTC)
    day = now.astimezone(CHINA_TZ).date().isoformat()
    rows = [
        {
            "out_trade_no": otn,
            "terminal_id": terminal_id,
            "store_id": "S00001",
            "channel": "wechat",
            "mode": "native",
            "amount_fen": amount_fen,
            "subject": "Bench",
            "operator": "bench",
            "state": "AWAITING_SCAN",
            "business_day": day,
            "code_url": "weixin://wxpay/bizpayurl?pr=x",
            "expires_at": now + timedelta(hours=2),
            "created_at": now,
            "updated_at": now,
            "refunded_fen": 0,
            "needs_attention": False,
            "cancel_requested": False,
            "failed_checks": 0,
            "version": 1,
        }  # fmt: skip
        for otn in orders
    ]
    with ledger.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(Payment), rows[start : start + 5000])
