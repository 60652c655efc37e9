"""The console's secret key (``[console] secret_key_file``): signs the sign-in form's token.

Made on first start, 0600 from the first byte; a key file others can read is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

from pos_app.private_files import private_dir
from pos_app.secret_files import load_secret_bytes, write_secret_file

KEY_CHARS = 44  # 32 random bytes, base64


def load_or_create_key(path: Path) -> bytes:
    if not path.exists():
        private_dir(path.parent)
        write_secret_file(path, base64.b64encode(secrets.token_bytes(32)))
    return load_secret_bytes(path, length=KEY_CHARS)


def sign(key: bytes, value: str) -> str:
    """HMAC-SHA256 of ``value`` under the key, hex."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
