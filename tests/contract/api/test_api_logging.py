"""Engine logs: JSON lines in the log file, and no secret in them (full payment codes, terminal keys,
signatures) even when a payment runs end to end."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

from api_support import Stack
from test_api_payments import micropay

from pos_app.api.client import EngineClient
from pos_app.domain.states import PaymentState
from pos_app.engine.logging_setup import configure_logging, mask_secrets


def test_mask_secrets() -> None:
    assert mask_secrets("code 134567890123456789 used") == "code **************6789 used"
    assert mask_secrets('X-Pos-Signature: "abc+/=="') == 'X-Pos-Signature: "***"'
    assert mask_secrets("amount 1230 fen") == "amount 1230 fen"


async def test_a_payment_logs_no_secret(stack: Stack, client: EngineClient, tmp_path: Path) -> None:
    log_file = tmp_path / "engine.jsonl"
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    configure_logging(level=logging.DEBUG, log_file=log_file)
    try:
        code = await stack.auth_code("wechat")
        view = await client.create_payment(micropay(code))
        assert view.state is PaymentState.PAID
        logging.getLogger("pos_app.test").info("terminal sent auth_code=%s", code)  # a careless call site
    finally:
        for handler in root.handlers:
            if handler not in saved[1]:
                handler.close()
        root.handlers[:] = saved[1]
        root.setLevel(saved[0])
    text = log_file.read_text("utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines and all({"ts", "level", "logger", "message"} <= set(line) for line in lines)
    assert code not in text
    assert code[-4:] in text  # the masked form is there to trace the payment
    key = client._key
    assert key is not None
    assert base64.urlsafe_b64encode(key).decode().rstrip("=") not in text
