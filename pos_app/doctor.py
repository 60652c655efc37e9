"""`pos doctor`: checks a profile and says, for every problem, what to do about it.

Each check is a small function returning Findings; the command prints them and exits non-zero on
any error. Checks never print secret material: they name files and fields, not contents. On the
embedded sandbox profile the engine runs only while the till does: finding it stopped is a NOTE (how
things are, nothing to fix), not a warning or an error.
"""

from __future__ import annotations

import ctypes.util
import re
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum
from pathlib import Path

import httpx

from pos_app.config import Settings
from pos_app.doctor_secrets import check_engine_secrets, check_journal_files
from pos_app.secret_files import KeyFileError, load_secret_bytes

MIN_FREE_BYTES = 200 * 1024 * 1024
MAX_CLOCK_SKEW_S = 60.0


class Level(StrEnum):
    OK = "ok"
    NOTE = "note"  # worth knowing, nothing to fix
    WARN = "warn"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    check: str
    message: str
    fix: str = ""


Check = Callable[[Settings], Iterable[Finding]]


def _ok(check: str, message: str) -> Finding:
    return Finding(Level.OK, check, message)


def _err(check: str, message: str, fix: str) -> Finding:
    return Finding(Level.ERROR, check, message, fix)


def check_wechatpay(settings: Settings) -> Iterable[Finding]:
    # The engine's key parsers need `cryptography` (the engine extra): a bare till never runs this check.
    from pos_app.engine.crypto.keys import load_private_key, load_public_key

    wx = settings.wechatpay
    if not wx.enabled:
        yield _ok("wechatpay", "disabled")
        return
    for field, pattern, hint in (
        ("mchid", r"\d{8,12}", "the 商户号 from the merchant platform"),
        ("appid", r"wx[0-9a-f]{16}", "the AppID bound to the merchant"),
        ("merchant_serial_no", r"[0-9A-F]{8,40}", "the merchant API certificate serial in uppercase hex"),
    ):
        value = getattr(wx, field)
        if not re.fullmatch(pattern, value):
            yield _err("wechatpay", f"[wechatpay] {field} is missing or malformed.", f"Set {field}: {hint}.")
    try:
        load_private_key(settings.path(wx.merchant_private_key))
        yield _ok("wechatpay", "merchant private key readable (owner only) and parses")
    except KeyFileError as exc:
        yield _err("wechatpay", str(exc), "Fix [wechatpay] merchant_private_key (apiclient_key.pem, mode 0600).")
    try:
        load_secret_bytes(settings.path(wx.apiv3_key_file), length=32)
        yield _ok("wechatpay", "APIv3 key file holds 32 characters, owner only")
    except KeyFileError as exc:
        yield _err("wechatpay", str(exc), "Put the 32-character APIv3 key alone in the file, mode 0600.")
    if wx.verify_mode == "public_key":
        if not re.fullmatch(r"PUB_KEY_ID_\d{10,40}", wx.platform_public_key_id):
            yield _err(
                "wechatpay",
                "[wechatpay] platform_public_key_id is not a PUB_KEY_ID_… value.",
                "Copy the public key ID from 账户中心 → API安全.",
            )
        if wx.platform_public_key is None:
            yield _err("wechatpay", "[wechatpay] platform_public_key is not set.", "Point it at pub_key.pem.")
        else:
            try:
                load_public_key(settings.path(wx.platform_public_key))
                yield _ok("wechatpay", "WeChat Pay public key parses")
            except KeyFileError as exc:
                yield _err("wechatpay", str(exc), "Download pub_key.pem again from the merchant platform.")


def check_alipay(settings: Settings) -> Iterable[Finding]:
    # The engine's key parsers need `cryptography` (the engine extra): a bare till never runs this check.
    from pos_app.engine.crypto.keys import load_private_key, load_public_key

    ali = settings.alipay
    if not ali.enabled:
        yield _ok("alipay", "disabled")
        return
    if not re.fullmatch(r"\d{16}", ali.app_id):
        yield _err("alipay", "[alipay] app_id is missing or not 16 digits.", "Copy the APPID of the app.")
    if ali.seller_id and not re.fullmatch(r"2088\d{12}", ali.seller_id):
        yield _err("alipay", "[alipay] seller_id is not a 2088… PID.", "Copy the PID or leave it empty.")
    try:
        load_private_key(settings.path(ali.app_private_key))
        yield _ok("alipay", "app private key readable (owner only) and parses")
    except KeyFileError as exc:
        yield _err("alipay", str(exc), "Fix [alipay] app_private_key (PKCS#1 or PKCS#8, mode 0600).")
    try:
        load_public_key(settings.path(ali.alipay_public_key))
        yield _ok("alipay", "Alipay public key parses")
    except KeyFileError as exc:
        yield _err("alipay", str(exc), "Use Alipay's public key (not the app's own public key).")


def check_engine_reachable(settings: Settings) -> Iterable[Finding]:
    url = settings.terminal.engine_url.rstrip("/") + "/healthz"
    started = time.time()
    try:
        response = httpx.get(url, timeout=3.0)
    except httpx.HTTPError as exc:
        if settings.terminal.sandbox:
            # The embedded default: the engine is a child of the till, so it runs only while `pos` does.
            yield Finding(
                Level.NOTE,
                "engine",
                f"Engine at {settings.terminal.engine_url} is unreachable: not running (it is started by `pos`).",
                "Nothing to fix: `pos` starts it with the till. Run `pos doctor` while the till is open to check it.",
            )
            return
        yield _err(
            "engine",
            f"Engine at {settings.terminal.engine_url} is unreachable ({exc.__class__.__name__}).",
            "Start it (`pos engine serve`) or fix [terminal] engine_url.",
        )
        return
    if response.status_code != 200:
        yield _err("engine", f"Engine /healthz answered {response.status_code}.", "Check the engine's logs.")
        return
    yield _ok("engine", f"engine reachable at {settings.terminal.engine_url}")
    date_header = response.headers.get("date")
    if date_header:
        skew = parsedate_to_datetime(date_header).timestamp() - (started + time.time()) / 2
        if abs(skew) > MAX_CLOCK_SKEW_S:
            yield _err(
                "clock",
                f"This clock differs from the engine's by {skew:+.0f} s.",
                "Enable time sync (timedatectl set-ntp true): skew breaks every signature.",
            )
        else:
            yield _ok("clock", f"clock within {abs(skew):.0f} s of the engine")


def check_terminal_activated(settings: Settings) -> Iterable[Finding]:
    key_file = settings.path(settings.terminal.terminal_key_file)
    try:
        load_secret_bytes(key_file)
        yield _ok("terminal", "terminal activated (key file present, owner only)")
    except KeyFileError as exc:
        yield _err("terminal", str(exc), "Activate this terminal: start `pos` with a one-time activation code.")


def check_disk(settings: Settings) -> Iterable[Finding]:
    journal = settings.path(settings.terminal.journal_path)
    directory = journal.parent if journal.parent.exists() else settings.home
    free = shutil.disk_usage(directory).free
    if free < MIN_FREE_BYTES:
        yield _err("disk", f"Only {free // 2**20} MiB free for the journal in {directory}.", "Free disk space.")
    else:
        yield _ok("disk", f"{free // 2**30} GiB free for the journal")


def check_zbar(settings: Settings) -> Iterable[Finding]:
    if ctypes.util.find_library("zbar") is None:
        yield Finding(
            Level.WARN,
            "scanner",
            "libzbar is not installed: image/camera scanning is off.",
            "apt-get install libzbar0 (USB scanners work without it).",
        )
    else:
        yield _ok("scanner", "libzbar present")


def check_database(settings: Settings) -> Iterable[Finding]:
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.exc import SQLAlchemyError

    from pos_app.engine.store.db import alembic_config

    url = settings.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        yield Finding(
            Level.WARN, "database", "Engine ledger not created yet.", "It is created on first `pos engine serve`."
        )
        return
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                yield _err("database", "The engine ledger has no schema version.", "Start `pos engine serve` once.")
                return
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        if version != head:
            yield _err(
                "database",
                f"The engine ledger is at schema {version}, this version needs {head}.",
                "Start `pos engine serve` once: it backs the ledger up and migrates it.",
            )
            return
        yield _ok("database", f"engine ledger reachable, schema version {version} (current)")
    except SQLAlchemyError as exc:
        yield _err(
            "database", f"Engine database unreachable ({exc.__class__.__name__}).", "Check [engine] database_url."
        )
    finally:
        engine.dispose()


def _check_public_url(settings: Settings) -> Iterable[Finding]:
    from pos_app.doctor_public_url import check_public_url  # imports this module's Finding

    return check_public_url(settings)


ENGINE_CHECKS: tuple[Check, ...] = (
    check_wechatpay,
    check_alipay,
    check_database,
    check_engine_secrets,
    check_disk,
    _check_public_url,
)
TERMINAL_CHECKS: tuple[Check, ...] = (
    check_engine_reachable,
    check_terminal_activated,
    check_journal_files,
    check_disk,
    check_zbar,
)


def run_checks(settings: Settings, checks: Iterable[Check]) -> list[Finding]:
    findings: list[Finding] = []
    for check in checks:
        findings.extend(check(settings))
    return findings
