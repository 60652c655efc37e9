"""Engine logging: readable text on the console, JSON lines in a rotated file, secrets masked in both.

Masking is a last line of defence: code must not log secrets in the first place. The filter blanks
what slips through: long digit runs (payment codes: all but the last 4 digits), HMAC/RSA signatures
and Authorization headers.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
from datetime import UTC, datetime
from pathlib import Path

_DIGITS = re.compile(r"(?<!\d)\d{16,24}(?!\d)")  # payment codes: WeChat 18, Alipay 16–24 digits
_SIGNATURE = re.compile(
    # ``secret``: the official account's AppSecret rides in the query of sns/oauth2/access_token,
    # which httpx logs at INFO ("HTTP Request: GET …").
    r"(?i)((?:signature|sign|authorization|x-pos-signature|terminal_key|apiv3|secret)[\"']?\s*[=:]\s*[\"']?)[^\s\"',}&]+"
)

# RSA signatures (344 Base64 chars), key material and ciphertexts: no legitimate log text has such runs.
_LONG_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{64,}={0,2}")
# Third-party loggers that dump raw HTTP headers (Authorization, Wechatpay-Signature) at debug level.
_HEADER_DUMPERS = ("httpcore", "httpx", "hpack")

_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def mask_secrets(text: str) -> str:
    text = _SIGNATURE.sub(lambda m: m.group(1) + "***", text)
    text = _LONG_BASE64.sub("[redacted]", text)
    return _DIGITS.sub(lambda m: "*" * (len(m.group(0)) - 4) + m.group(0)[-4:], text)


class SecretMaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                document[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info:
            document["exc"] = mask_secrets(self.formatException(record.exc_info))
        return json.dumps(document, ensure_ascii=False)


def configure_logging(*, level: int = logging.INFO, log_file: Path | None = None) -> None:
    """Console text always; JSON lines to ``log_file`` (10 MB x 5) when given. Idempotent."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_pos_handler", False):
            root.removeHandler(handler)
    root.setLevel(level)
    for name in _HEADER_DUMPERS:
        logging.getLogger(name).setLevel(max(level, logging.INFO))
    mask = SecretMaskingFilter()
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    console.addFilter(mask)
    console._pos_handler = True  # type: ignore[attr-defined]
    root.addHandler(console)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8"
        )
        file_handler.setFormatter(JsonFormatter())
        file_handler.addFilter(mask)
        file_handler._pos_handler = True  # type: ignore[attr-defined]
        root.addHandler(file_handler)
