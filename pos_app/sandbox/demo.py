"""`pos demo init`: a complete sandbox profile in one directory (DESIGN.md §2, "the embedded default").

Writes ``DIR/pos.toml`` (every section, ports picked free on loopback now) and freshly generated keys:

- ``keys/`` — what the **engine** holds: WeChat merchant key + APIv3 key + WeChat Pay public key,
  Alipay app private key + Alipay public key;
- ``sandbox-keys/`` — what the **simulated gateways** hold: the merchant's and the app's public keys,
  the WeChat Pay public-key pair's private half, the Alipay gateway private key and the APIv3 key.

Every private key, the APIv3 key and the engine's ledger key (``keys/ledger.key``, which seals the
terminal keys in the ledger) are written mode 0600 from their first byte; the profile directory and
its key directories are 0700, whatever the umask.
"""

from __future__ import annotations

import secrets
import socket
import string
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from pos_app.engine.crypto.keys import private_pem_pkcs1, private_pem_pkcs8, public_pem
from pos_app.engine.crypto.rsa import generate_rsa_key
from pos_app.engine.crypto.sealing import create_ledger_key
from pos_app.private_files import FILE_MODE, private_dir
from pos_app.secret_files import write_secret_file

DEMO_MCHID = "1900000109"
DEMO_WECHAT_APPID = "wxd930ea5d5a258f4f"
DEMO_ALIPAY_APP_ID = "2021000000000001"
DEMO_ALIPAY_SELLER_ID = "2088000000000001"


@dataclass(frozen=True, slots=True)
class DemoProfile:
    home: Path
    config: Path
    sandbox_listen: str
    engine_listen: str


def free_loopback_port() -> int:
    """A port that was free a moment ago (the engine/sandbox bind it when they start)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alnum(n: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o644)


def init_demo_profile(home: Path, *, force: bool = False) -> DemoProfile:
    """Create the profile in ``home``. Refuses to overwrite an existing ``pos.toml`` unless ``force``."""
    home = home.expanduser().resolve()
    config = home / "pos.toml"
    if config.exists() and not force:
        raise FileExistsError(f"{config} already exists (use --force to replace it).")
    keys, sandbox_keys = home / "keys", home / "sandbox-keys"
    for directory in (home, keys, sandbox_keys):
        private_dir(directory)

    merchant = generate_rsa_key()
    write_secret_file(keys / "wechat_merchant_key.pem", private_pem_pkcs8(merchant))
    _write_public(sandbox_keys / "wechat_merchant_pub.pem", public_pem(merchant.public_key()))
    merchant_serial = secrets.token_hex(20).upper()

    wechat_pay = generate_rsa_key()
    write_secret_file(sandbox_keys / "wechat_pay_private.pem", private_pem_pkcs8(wechat_pay))
    _write_public(keys / "wechat_pay_pub_key.pem", public_pem(wechat_pay.public_key()))
    pub_key_id = "PUB_KEY_ID_0119" + "".join(secrets.choice(string.digits) for _ in range(28))

    apiv3 = _alnum(32).encode("ascii")
    write_secret_file(keys / "wechat_apiv3.key", apiv3)
    write_secret_file(sandbox_keys / "wechat_apiv3.key", apiv3)

    # The official account's AppSecret (web OAuth of the one-QR pages): the engine and the sandbox
    # both read this one file, as [wechatpay] oauth_secret_file.
    write_secret_file(keys / "wechat_oauth_secret", _alnum(32).encode("ascii"))

    # Alipay's key tool emits PKCS#1 for the app key in many guides; the engine accepts both forms.
    app = generate_rsa_key()
    write_secret_file(keys / "alipay_app_key.pem", private_pem_pkcs1(app))
    _write_public(sandbox_keys / "alipay_app_pub.pem", public_pem(app.public_key()))

    # Kept on --force: the ledger's terminal keys are sealed with it.
    ledger_key = keys / "ledger.key"
    if not ledger_key.exists():
        create_ledger_key(ledger_key)

    gateway = generate_rsa_key()
    write_secret_file(sandbox_keys / "alipay_gateway_private.pem", private_pem_pkcs8(gateway))
    _write_public(keys / "alipay_public_key.pem", public_pem(gateway.public_key()))

    sandbox_port, engine_port, console_port = free_loopback_port(), free_loopback_port(), free_loopback_port()
    while engine_port == sandbox_port:
        engine_port = free_loopback_port()
    while console_port in (sandbox_port, engine_port):
        console_port = free_loopback_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    engine_url = f"http://127.0.0.1:{engine_port}"
    document = {
        "terminal": {
            "engine_url": engine_url,
            "store_id": "S00001",
            "store_name": "Demo Store (sandbox)",
            "terminal_id": "T001",
            "name": "Till 1",
            "journal_path": "journal.sqlite3",
            "terminal_key_file": "terminal.key",
            "sandbox": True,
        },
        "engine": {
            "listen": f"127.0.0.1:{engine_port}",
            "public_url": engine_url,
            "database_url": "sqlite:///engine.sqlite3",
            "ledger_key_file": "keys/ledger.key",
        },
        "wechatpay": {
            "mchid": DEMO_MCHID,
            "appid": DEMO_WECHAT_APPID,
            "merchant_private_key": "keys/wechat_merchant_key.pem",
            "merchant_serial_no": merchant_serial,
            "apiv3_key_file": "keys/wechat_apiv3.key",
            "verify_mode": "public_key",
            "platform_public_key": "keys/wechat_pay_pub_key.pem",
            "platform_public_key_id": pub_key_id,
            "base_url": sandbox_url,
            # The one-QR pages' web OAuth: the sandbox plays open.weixin.qq.com and api.weixin.qq.com too.
            "oauth_secret_file": "keys/wechat_oauth_secret",
            "oauth_url": sandbox_url,
            "sns_url": sandbox_url,
        },
        "alipay": {
            "app_id": DEMO_ALIPAY_APP_ID,
            "seller_id": DEMO_ALIPAY_SELLER_ID,
            "app_private_key": "keys/alipay_app_key.pem",
            "alipay_public_key": "keys/alipay_public_key.pem",
            "gateway": f"{sandbox_url}/gateway.do",
            "oauth_url": sandbox_url,  # the sandbox plays openauth.alipay.com
        },
        "upload": {"url": f"{sandbox_url}/hq/uploads"},
        # The managers' web console (the embedded default starts it; the till's F2 shows the URL).
        "console": {"listen": f"127.0.0.1:{console_port}", "engine_url": engine_url},
        "sandbox": {
            "listen": f"127.0.0.1:{sandbox_port}",
            "state_path": "sandbox.sqlite3",
            "keys_dir": "sandbox-keys",
            "wechat_mode": "public_key",
        },
    }
    header = (
        "# pos_app demo profile: everything points at the local sandbox (training mode, no real money).\n"
        "# See README.md, 'Pointing at the real gateways', to turn a copy of this into a production profile.\n"
    )
    config.write_text(header + tomli_w.dumps(document), "utf-8")
    config.chmod(FILE_MODE)
    # Identifiers the sandbox must know about the merchant (public facts, not secrets).
    _write_public(
        sandbox_keys / "merchant.toml",
        tomli_w.dumps(
            {
                "wechat": {
                    "mchid": DEMO_MCHID,
                    "appid": DEMO_WECHAT_APPID,
                    "merchant_serial_no": merchant_serial,
                    "pub_key_id": pub_key_id,
                },
                "alipay": {"app_id": DEMO_ALIPAY_APP_ID, "seller_id": DEMO_ALIPAY_SELLER_ID},
            }
        ).encode("utf-8"),
    )
    return DemoProfile(home, config, f"127.0.0.1:{sandbox_port}", f"127.0.0.1:{engine_port}")
