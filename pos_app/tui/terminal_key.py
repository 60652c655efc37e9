"""Reading the terminal's HMAC key, stored at activation, for the app's engine client."""

from __future__ import annotations

from pathlib import Path

from pos_app.api.auth import decode_key


def read_terminal_key(path: Path) -> bytes:
    """The terminal's HMAC key, stored base64url at activation (0600)."""
    from pos_app.domain.errors import ConfigError

    try:
        return decode_key(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: this terminal is not activated yet (run `pos engine activation-code` on the engine)."
        ) from None
