"""`pos doctor` checks of what the customer's phone needs: the engine's public URL (HTTPS, reachable)
and the official account's AppSecret file of the one-QR pages.

A phone opens the one-QR and store-QR pages at ``[engine] public_url``; WeChat registers that domain
(网页授权域名, 支付授权目录) and accepts only the standard port, so real gateways need HTTPS there.
In a sandbox demo (``[terminal] sandbox``) plain HTTP on loopback is how it runs: a warning, not an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import httpx

from pos_app.config import Settings
from pos_app.doctor import Finding, Level
from pos_app.secret_files import KeyFileError, load_secret_bytes

CHECK = "public_url"


def check_public_url(settings: Settings) -> Iterable[Finding]:
    url = settings.engine.public_url.rstrip("/")
    parts = urlsplit(url)
    sandbox = settings.terminal.sandbox
    if parts.scheme not in ("http", "https") or not parts.hostname:
        yield Finding(Level.ERROR, CHECK, f"[engine] public_url {url!r} is not a URL.", "Set it to https://your.domain")
        return
    if parts.scheme != "https":
        if sandbox:
            yield Finding(
                Level.WARN,
                CHECK,
                f"[engine] public_url {url} is not HTTPS (fine for the sandbox demo only).",
                "Real gateways need an HTTPS domain on port 443 (see the one-QR section of the production config).",
            )
        else:
            yield Finding(
                Level.ERROR,
                CHECK,
                f"[engine] public_url {url} is not HTTPS: WeChat and Alipay phones cannot use its pages.",
                "Serve the engine behind HTTPS on a registered domain, port 443, and set public_url to it.",
            )
    elif parts.port not in (None, 443) and not sandbox:
        yield Finding(
            Level.ERROR, CHECK, f"[engine] public_url {url} has a port.", "WeChat's domain settings accept no port."
        )
    try:
        response = httpx.get(url + "/healthz", timeout=3.0)
    except httpx.HTTPError as exc:
        level = Level.WARN if sandbox else Level.ERROR
        yield Finding(
            level,
            CHECK,
            f"{url}/healthz is unreachable ({exc.__class__.__name__}).",
            "Start the engine, and check that the public URL reaches it (DNS, proxy, firewall).",
        )
    else:
        if response.status_code == 200:
            yield Finding(Level.OK, CHECK, f"{url}/healthz answers")
        else:
            yield Finding(Level.ERROR, CHECK, f"{url}/healthz answered {response.status_code}.", "Check the proxy.")
    yield from _oauth_secret(settings)


def _oauth_secret(settings: Settings) -> Iterable[Finding]:
    configured = settings.wechatpay.oauth_secret_file
    if not settings.wechatpay.enabled:
        return
    if configured is None:
        yield Finding(Level.NOTE, "one_qr", "No [wechatpay] oauth_secret_file: the till shows per-wallet codes only.")
        return
    try:
        secret = load_secret_bytes(settings.path(configured))
    except KeyFileError as exc:
        yield Finding(
            Level.WARN,
            "one_qr",
            f"{exc} — one code for every wallet is off.",
            "Put the official account's AppSecret in that file (mode 0600) to serve the one-QR pages.",
        )
        return
    if secret:
        yield Finding(Level.OK, "one_qr", "official account AppSecret file present (owner only)")
    else:
        yield Finding(Level.WARN, "one_qr", f"{configured} is empty — one code for every wallet is off.")
