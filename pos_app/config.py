"""Typed settings: one TOML file per profile, overridden by ``POS_*`` environment variables.

Where the file is:
- ``POS_HOME=DIR``: ``DIR/pos.toml``, and every relative path in it (journal, keys, databases) is
  resolved against ``DIR``;
- else ``--config FILE`` where a command offers it;
- else the platform's user config dir (platformdirs), e.g. ``~/.local/share/pos_app/pos.toml``.

Environment overrides use ``__`` for nesting: ``POS_TERMINAL__ENGINE_URL=http://…``.
A missing or broken file is a one-line ConfigError naming the file and the field.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_data_dir
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from pos_app.domain.errors import ConfigError
from pos_app.domain.money import DEFAULT_MAX_SALE_FEN

CONFIG_NAME = "pos.toml"


class _Section(BaseModel):
    # A misspelt field is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid")


class TerminalSettings(_Section):
    """`[terminal]` — the checkout terminal (the TUI process). Holds no provider keys."""

    engine_url: str = Field("http://127.0.0.1:8700", description="Base URL of the payment engine.")
    store_id: str = Field("S00001", description="Store code (1–6 letters/digits), part of every order number.")
    store_name: str = Field("Demo Store", description="Printed on receipts and shown in the header.")
    terminal_id: str = Field(
        "T001",
        description="Terminal code (1–4 letters/digits), unique among all the terminals of one engine (every store).",
    )
    name: str = Field("Till 1", description="Human name of this till.")
    journal_path: Path = Field(Path("journal.sqlite3"), description="The terminal's fsynced SQLite journal.")
    terminal_key_file: Path = Field(
        Path("terminal.key"), description="Written at activation: this terminal's HMAC key (0600)."
    )
    activation_code_file: Path | None = Field(
        None, description="A one-time activation code to use on first start (demo profiles write one)."
    )
    max_sale_fen: int = Field(DEFAULT_MAX_SALE_FEN, gt=0, description="Per-sale limit in fen.")
    sandbox: bool = Field(False, description="Show the SANDBOX badge (training mode, no real money).")
    printer: str | None = Field(
        None, description='Receipt printer: "usb:VID:PID", "tcp:HOST[:PORT]" or "file:/path" (none: screen only).'
    )
    language: Literal["zh_CN", "en"] | None = Field(
        None, description='What the till, receipts and reports speak: "zh_CN" or "en" (none: the system locale).'
    )


class EngineSettings(_Section):
    """`[engine]` — the payment engine, the only process holding provider keys."""

    listen: str = Field("127.0.0.1:8700", description="host:port to bind; loopback unless you mean otherwise.")
    public_url: str = Field(
        "http://127.0.0.1:8700", description="How the gateways reach this engine (notify URLs are built from it)."
    )
    database_url: str = Field(
        "sqlite:///engine.sqlite3",
        description="Ledger database: sqlite:///FILE (default) or postgresql+psycopg://user@host/db.",
    )
    max_notify_body_bytes: int = Field(64 * 1024, gt=0, description="Notifications larger than this are refused.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Engine worker processes serving one port; the scheduled jobs run in one of them "
        "(chosen by a lease in the ledger).",
    )
    request_timeout_s: float = Field(10.0, gt=0, description="Timeout of one gateway call, in seconds.")
    resolver_interval_s: float = Field(5.0, gt=0, description="How often the resolver looks for unsettled payments.")
    lease_s: float = Field(
        10.0, gt=0, description="How long a process settling a payment holds it before another may take it over."
    )
    lease_renew_s: float = Field(3.0, gt=0, description="How often the holder renews that lease while it lives.")
    reconcile_at: time | None = Field(
        time(10, 0), description="Beijing time at which `pos engine serve` reconciles yesterday; empty turns it off."
    )
    log_file: Path | None = Field(None, description="JSON log file (rotated); console logs are plain text.")
    max_body_bytes: int = Field(
        4 * 1024 * 1024, gt=0, description="Terminal requests with a larger body are refused (413) before parsing."
    )
    max_unsigned_body_bytes: int = Field(
        16 * 1024, gt=0, description="Requests no terminal signs (activation, health checks): body size limit (413)."
    )
    rate_limit: str = Field(
        "20/second;600/minute",
        description='Requests per terminal, e.g. "20/second;600/minute"; over it: 429 with Retry-After. Empty: off.',
    )
    shed_reports_in_flight: int = Field(
        32, gt=0, description="With more requests than this in flight, reports are refused (503) so payments go on."
    )
    max_in_flight: int = Field(
        128,
        gt=0,
        description="With more requests than this in flight, all but payments, refunds, gateway callbacks and "
        "health checks are refused (503).",
    )
    retry_after_s: int = Field(5, gt=0, description="Retry-After (seconds) of a 503 sent while shedding load.")
    ledger_key_file: Path = Field(
        Path("keys/ledger.key"),
        description="Seals the terminal keys in the ledger (0600; made on first start). Back it up with the ledger.",
    )
    refund_limit_terminal_fen: int = Field(
        200_000, gt=0, description="Refunds (voids paid back by refund too) one till may make per business day, fen."
    )
    refund_limit_store_fen: int = Field(
        1_000_000, gt=0, description="Refunds (voids paid back by refund too) one store may make per business day, fen."
    )


class WechatPaySettings(_Section):
    """`[wechatpay]` — direct merchant (普通商户) WeChat Pay APIv3."""

    enabled: bool = Field(True, description="Offer WeChat Pay.")
    mchid: str = Field("", description="Merchant id (商户号).")
    appid: str = Field("", description="AppID bound to the merchant.")
    merchant_private_key: Path = Field(Path("keys/wechat_merchant_key.pem"), description="apiclient_key.pem.")
    merchant_serial_no: str = Field("", description="Merchant API certificate serial, uppercase hex.")
    apiv3_key_file: Path = Field(Path("keys/wechat_apiv3.key"), description="File with the 32-char APIv3 key.")
    verify_mode: Literal["public_key", "platform_cert"] = Field(
        "public_key", description="How responses/notifications are verified: WeChat Pay public key or certificates."
    )
    platform_public_key: Path | None = Field(
        Path("keys/wechat_pay_pub_key.pem"), description="WeChat Pay public key (pub_key.pem), public-key mode."
    )
    platform_public_key_id: str = Field("", description="PUB_KEY_ID_… of that public key.")
    base_url: str = Field("https://api.mch.weixin.qq.com", description="Gateway base URL (the sandbox in demos).")
    # The one-QR and store-QR pages: web OAuth (snsapi_base) of the official account `appid`.
    oauth_secret_file: Path | None = Field(
        Path("keys/wechat_oauth_secret"),
        description="File with the official account's AppSecret (web OAuth of the one-QR pages); absent: no JSAPI.",
    )
    oauth_url: str = Field(
        "https://open.weixin.qq.com", description="Base of /connect/oauth2/authorize (the sandbox in demos)."
    )
    sns_url: str = Field(
        "https://api.weixin.qq.com", description="Base of /sns/oauth2/access_token (the sandbox in demos)."
    )


class AlipaySettings(_Section):
    """`[alipay]` — Alipay OpenAPI face-to-face (当面付), RSA2 keys mode."""

    enabled: bool = Field(True, description="Offer Alipay.")
    app_id: str = Field("", description="The app id (APPID).")
    seller_id: str = Field("", description="The merchant's PID (2088…), checked on notifications when set.")
    app_private_key: Path = Field(Path("keys/alipay_app_key.pem"), description="App private key, PKCS#1 or PKCS#8.")
    alipay_public_key: Path = Field(Path("keys/alipay_public_key.pem"), description="Alipay's public key.")
    gateway: str = Field("https://openapi.alipay.com/gateway.do", description="gateway.do URL (the sandbox in demos).")
    oauth_url: str = Field(
        "https://openauth.alipay.com",
        description="Base of /oauth2/publicAppAuthorize.htm (one-QR pages' web authorization; the sandbox in demos).",
    )


class UploadSettings(_Section):
    """`[upload]` — where daily reconciliation results go: an HTTP endpoint or a directory."""

    url: str | None = Field(None, description="HQ endpoint receiving uploads (HMAC-signed).")
    dir: Path | None = Field(None, description="Directory receiving uploads as files.")
    hmac_key_file: Path | None = Field(None, description="Key for the upload signature.")


class SandboxSettings(_Section):
    """`[sandbox]` — the simulated gateways (training mode and tests)."""

    listen: str = Field("127.0.0.1:8800", description="host:port of the simulated gateways.")
    state_path: Path = Field(Path("sandbox.sqlite3"), description="The sandbox's own SQLite state.")
    keys_dir: Path = Field(Path("sandbox-keys"), description="The simulated gateways' own keys.")
    wechat_mode: Literal["public_key", "platform_cert"] = Field(
        "public_key", description="Sign WeChat responses with the public-key pair or platform certificates."
    )
    time_scale: float = Field(
        1.0, gt=0, description="Divides notification retry delays (e.g. 3600 makes an hour a second)."
    )
    signtest_probes: bool = Field(False, description="Occasionally send WECHATPAY/SIGNTEST/ probe notifications.")
    alipay_notify_wait_buyer_pay: bool = Field(
        False, description="Also notify WAIT_BUYER_PAY when a buyer scans an Alipay QR (F2F apps often get it)."
    )
    alipay_id_mode: Literal["user_id", "open_id", "both"] = Field(
        "both", description="Buyer ids alipay.system.oauth.token returns: 2088 user_id, per-app open_id or both."
    )
    alipay_auth_code_ttl_s: float = Field(300.0, gt=0, description="Life of an unused Alipay web auth_code, seconds.")
    alipay_require_jsapi_pay: bool = Field(
        False, description="alipay.trade.create demands product_code JSAPI_PAY + op_app_id (JSAPI支付 contract)."
    )


class ConsoleSettings(_Section):
    """`[console]` — the managers' web console (`pos console serve`). Holds no provider keys."""

    listen: str = Field("127.0.0.1:8900", description="host:port of the console; loopback unless you mean otherwise.")
    secret_key_file: Path = Field(
        Path("keys/console.key"), description="Signs the console's login-form tokens (0600; made on first start)."
    )
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="How long a sign-in lasts, in hours.")
    secure_cookies: bool = Field(
        False, description="Mark cookies Secure (only sent over HTTPS): set it when a TLS proxy fronts the console."
    )
    live_poll_s: float = Field(
        2.0, gt=0, description="How often an open Today page's live view looks in the ledger for new payments."
    )
    engine_url: str = Field("http://127.0.0.1:8700", description="The engine the console acts through (refunds).")
    engine_key_file: Path = Field(
        Path("keys/console-engine.key"),
        description="Signs the console's requests to the engine; the engine reads the same file (0600; "
        "`pos console engine-key`).",
    )


class Settings(BaseSettings):
    """A whole profile. Every section is optional in the file; defaults are documented per field."""

    model_config = SettingsConfigDict(env_prefix="POS_", env_nested_delimiter="__", extra="forbid")

    terminal: TerminalSettings = Field(default_factory=TerminalSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    wechatpay: WechatPaySettings = Field(default_factory=WechatPaySettings)
    alipay: AlipaySettings = Field(default_factory=AlipaySettings)
    upload: UploadSettings = Field(default_factory=UploadSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)

    #: The directory relative paths are resolved against (set by the loader, not the file).
    home: Path = Field(default_factory=Path.cwd, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the file, which arrives as init kwargs from load_settings.
        return (env_settings, init_settings)

    def path(self, value: Path) -> Path:
        """Resolve a path from the file against the profile's home directory."""
        return value if value.is_absolute() else self.home / value

    @property
    def database_url(self) -> str:
        """The engine database URL with a relative SQLite path resolved against the home directory."""
        url = self.engine.database_url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.home / url[len(prefix) :])
        return url


def default_home() -> Path:
    """``POS_HOME`` if set, else the platform's data directory for this app."""
    env = os.environ.get("POS_HOME")
    return Path(env).expanduser() if env else Path(user_data_dir("pos_app", appauthor=False))


def config_path(home: Path | None = None) -> Path:
    return (home or default_home()) / CONFIG_NAME


def _describe(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    where = f"[{loc[0]}] {'.'.join(loc[1:])}" if len(loc) > 1 else (loc[0] if loc else "?")
    return f"{where}: {error.get('msg', 'invalid')}"


def load_settings(path: Path | None = None, *, must_exist: bool = True) -> Settings:
    """Load a profile. ``path`` defaults to :func:`config_path`; its directory is the profile home."""
    file = path or config_path()
    data: dict[str, Any] = {}
    if file.exists():
        try:
            data = tomllib.loads(file.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML ({exc}).") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: cannot be read ({exc.__class__.__name__}).") from None
    elif must_exist:
        raise ConfigError(f"{file}: no such configuration file (run `pos demo init --dir DIR` to make one).")
    try:
        return Settings(**data, home=file.parent.resolve())
    except ValidationError as exc:
        raise ConfigError(f"{file}: {_describe(exc.errors()[0])}") from None
