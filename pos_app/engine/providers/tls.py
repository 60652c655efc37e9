"""The one TLS context the engine's gateway clients share.

Each ``httpx.AsyncClient`` built without one makes its own and loads certifi's trust anchors into it:
about 20 ms of CPU each, three times (WeChat Pay, Alipay, WeChat's OAuth) before the engine is ready
(``tests/bench/NOTES.md``). One context serves any number of connections; it is built the way httpx
builds its default (certifi's roots, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set), so what the
clients trust is unchanged.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def gateway_tls() -> ssl.SSLContext:
    """The process's TLS context for gateway calls (built on first use, then shared)."""
    return httpx.create_ssl_context()
