"""WeChat Pay JSAPI: the bridge parameters the page hands to ``getBrandWCPayRequest`` (spec
specs/wechatpay-jsapi.md §4).

``paySign`` is the APIv3 scheme: SHA256withRSA with the merchant API private key over four lines,
each ending in ``\\n`` — appId, timeStamp (Unix seconds), nonceStr, package. ``signType`` ("RSA") is
not signed. Every value is a string (the bridge is case- and type-sensitive).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa

from pos_app.engine.crypto.rsa import sign_sha256_rsa

SIGN_TYPE = "RSA"


def pay_sign_message(app_id: str, time_stamp: str, nonce_str: str, package: str) -> bytes:
    """``appId\\ntimeStamp\\nnonceStr\\npackage\\n`` in UTF-8 (the last line ends in ``\\n`` too)."""
    return f"{app_id}\n{time_stamp}\n{nonce_str}\n{package}\n".encode()


def pay_sign(private_key: rsa.RSAPrivateKey, *, app_id: str, time_stamp: str, nonce_str: str, package: str) -> str:
    return sign_sha256_rsa(private_key, pay_sign_message(app_id, time_stamp, nonce_str, package))


@dataclass(frozen=True, slots=True)
class BridgePay:
    """What ``WeixinJSBridge.invoke('getBrandWCPayRequest', …)`` takes, exactly (names are case-sensitive)."""

    app_id: str
    time_stamp: str
    nonce_str: str
    package: str
    pay_sign: str

    def as_bridge(self) -> dict[str, str]:
        return {
            "appId": self.app_id,
            "timeStamp": self.time_stamp,
            "nonceStr": self.nonce_str,
            "package": self.package,
            "signType": SIGN_TYPE,
            "paySign": self.pay_sign,
        }


def bridge_pay(
    private_key: rsa.RSAPrivateKey, *, app_id: str, prepay_id: str, time_stamp: int, nonce_str: str
) -> BridgePay:
    """The signed bridge parameters of one prepay (``time_stamp`` in Unix seconds, never ms)."""
    if not 10**9 <= time_stamp < 10**10:
        raise ValueError("timeStamp must be Unix seconds (10 digits)")
    package = f"prepay_id={prepay_id}"
    ts = str(time_stamp)
    sign = pay_sign(private_key, app_id=app_id, time_stamp=ts, nonce_str=nonce_str, package=package)
    return BridgePay(app_id=app_id, time_stamp=ts, nonce_str=nonce_str, package=package, pay_sign=sign)
