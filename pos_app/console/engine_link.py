"""The console's calls to the engine (``/console/v1``), signed with the console key.

The console acts only through the engine: a refund, disabling a till, an activation code. A refusal
comes back as :class:`EngineRefused` carrying the engine's own message (made for a person to act
on); an engine that cannot be reached or is not linked says what to do. No PIN or key is logged.
"""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from pos_app.api import auth
from pos_app.api.console_link import (
    CONSOLE_ID,
    HEADER_CONSOLE,
    PREFIX,
    ActivationCodeMade,
    ConsoleActivationCode,
    ConsoleRefund,
    ConsoleTerminalDisable,
    TerminalDisabled,
)
from pos_app.api.schemas import RefundView
from pos_app.domain.errors import PosError
from pos_app.i18n import N_
from pos_app.secret_files import read_key_text

log = logging.getLogger(__name__)

TIMEOUT_S = 20.0  # a refund waits for the gateway's first answer
Answer = TypeVar("Answer", bound=BaseModel)


class EngineRefused(PosError):
    """The engine refused the act, or could not be asked; ``message`` says why and what to do."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class EngineLink:
    """Signed calls to one engine; the key file is read per call (rotating it needs no restart)."""

    def __init__(
        self,
        engine_url: str,
        key_file: Path,
        *,
        timeout_s: float = TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = engine_url.rstrip("/")
        self._key_file = key_file
        self._timeout_s = timeout_s
        self._transport = transport  # tests: the engine app in-process

    def _key(self) -> bytes:
        try:
            return auth.decode_key(read_key_text(self._key_file, secret=True))
        except (PosError, ValueError):
            raise EngineRefused(
                N_("The console has no usable engine key — run `pos console engine-key`, then try again.")
            ) from None

    async def _post(self, path: str, body: BaseModel, answer: type[Answer]) -> Answer:
        key = self._key()
        data = body.model_dump_json().encode("utf-8")
        full = PREFIX + path
        timestamp, nonce = str(int(time.time())), secrets.token_urlsafe(18)
        headers = {
            "Content-Type": "application/json",
            HEADER_CONSOLE: CONSOLE_ID,
            auth.HEADER_TIMESTAMP: timestamp,
            auth.HEADER_NONCE: nonce,
            auth.HEADER_SIGNATURE: auth.sign(key, "POST", full, timestamp, nonce, data),
        }
        try:
            async with httpx.AsyncClient(timeout=self._timeout_s, transport=self._transport) as client:
                response = await client.post(self._url + full, content=data, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("engine %s not reached: %s", self._url, type(exc).__name__)
            raise EngineRefused(N_("The engine did not answer — nothing was done. Try again in a moment.")) from None
        if response.status_code >= 400:
            raise EngineRefused(_message_of(response), status=response.status_code)
        try:
            return answer.model_validate_json(response.content)
        except ValidationError:
            raise EngineRefused(
                N_("The engine's answer was not understood — check that both run one version.")
            ) from None

    async def refund(self, body: ConsoleRefund) -> RefundView:
        return await self._post("/refunds", body, RefundView)

    async def disable_terminal(self, body: ConsoleTerminalDisable) -> TerminalDisabled:
        return await self._post("/terminals/disable", body, TerminalDisabled)

    async def activation_code(self, body: ConsoleActivationCode) -> ActivationCodeMade:
        return await self._post("/activation-codes", body, ActivationCodeMade)


def _message_of(response: httpx.Response) -> str:
    try:
        message = response.json().get("message")
    except ValueError:
        message = None
    if isinstance(message, str) and message:
        return message
    return N_("The engine refused this — nothing was done.")
