"""Who is holding the simulated phone: the headers only the phone sends, and only to the wallets' own
authorize pages (the engine never sees them). Standard library only, so the phone can import it without
pulling in any gateway (or engine) code."""

from __future__ import annotations

USER_HEADER = "x-sandbox-user"
OAUTH_ERROR_HEADER = "x-sandbox-oauth-error"
DEFAULT_USER = "demo-user"
MAX_USER_LEN = 64


def simulated_user(value: str | None) -> str:
    """The phone's user name (default :data:`DEFAULT_USER`), trimmed to a sane length."""
    user = (value or "").strip()[:MAX_USER_LEN]
    return user or DEFAULT_USER
