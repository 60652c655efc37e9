"""The secret the pages' tokens (OAuth state, store tickets, result MACs) are keyed from: derived
from the ledger key file, so every engine process of one ledger accepts what another issued."""

from __future__ import annotations

import hashlib
import logging
import secrets

from pos_app.config import Settings
from pos_app.secret_files import KeyFileError, load_secret_bytes

log = logging.getLogger(__name__)


def page_secret(settings: Settings) -> bytes:
    try:
        raw = load_secret_bytes(settings.path(settings.engine.ledger_key_file))
    except KeyFileError:
        # Without the ledger key no other process could check these tokens anyway: this process's own.
        log.warning("ledger key file unreadable: the pages' tokens are valid in this process only")
        return secrets.token_bytes(32)
    return hashlib.sha256(b"pos-wallet-pages\0" + raw).digest()
