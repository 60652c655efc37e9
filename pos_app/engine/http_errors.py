"""How the engine's HTTP API answers errors: one ErrorBody with a stable code, per exception family."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from pos_app.api.schemas import ErrorBody
from pos_app.domain import errors as domain_errors
from pos_app.engine import errors as engine_errors
from pos_app.engine.providers import base as provider_base

log = logging.getLogger("pos_app.engine.server")


class ApiError(domain_errors.PosError):
    """An error answered as ``ErrorBody`` with ``status_code``."""

    def __init__(self, status_code: int, code: str, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "Refused input"),
        (401, "Not signed, bad signature, clock skew, replayed nonce, unknown or disabled terminal"),
        (404, "No such payment or refund"),
        (409, "Conflicts with what the engine holds"),
        (413, "Request body over the engine's size limit"),
        (422, "Invalid request body or parameters"),
        (429, "This terminal sent too many requests (see Retry-After)"),
        (502, "The gateway refused or failed"),
        (503, "The engine cannot serve the request right now (when shedding load: see Retry-After)"),
    )
}


def _error_for_pos_error(exc: domain_errors.PosError) -> tuple[int, str]:
    """Status and stable code of a domain error (first match wins: specific classes before families)."""
    by_class: list[tuple[type[BaseException], int, str]] = [
        (engine_errors.PaymentNotFound, 404, "not_found"),
        (engine_errors.RefundNotFound, 404, "not_found"),
        (engine_errors.IdempotencyConflict, 409, "conflict"),
        (engine_errors.PaymentStateError, 409, "conflict"),
        (engine_errors.ChannelUnavailable, 422, "channel_unavailable"),
        (engine_errors.OneQrUnavailable, 409, "one_qr_unavailable"),
        (domain_errors.AmountError, 422, "amount_error"),
        (domain_errors.AuthCodeError, 422, "auth_code_error"),
        (domain_errors.IdError, 422, "id_error"),
        (domain_errors.InputError, 422, "input_error"),
        (domain_errors.IllegalTransition, 409, "conflict"),
        (domain_errors.PaymentDeclined, 402, "declined"),
        (domain_errors.OutcomeUnknown, 503, "outcome_unknown"),
        (domain_errors.AuthorisationError, 403, "forbidden"),
        (domain_errors.ConfigError, 503, "engine_misconfigured"),
    ]
    for cls, status, code in by_class:
        if isinstance(exc, cls):
            return status, code
    return 400, "refused"


def _error_for_gateway(exc: provider_base.GatewayError) -> tuple[int, str]:
    if isinstance(exc, provider_base.OrderNotFound):
        return 404, "not_found"
    if isinstance(exc, provider_base.DefiniteFailure):
        return 402, "declined"
    if isinstance(exc, provider_base.ConfigurationError):
        return 503, "gateway_misconfigured"
    return 503, "outcome_unknown"


def _validation_message(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "The request was not understood — update the terminal software."
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "header"))
    return f"{where or 'request'}: {first.get('msg', 'invalid')}."


def json_error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(ErrorBody(code=code, message=message).model_dump(), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return json_error(exc.status_code, exc.code, exc.message, exc.headers)

    async def validation_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return json_error(422, "invalid_request", _validation_message(exc))

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = {
            404: "No such endpoint — check the engine URL.",
            405: "That method is not allowed here — update the terminal software.",
        }.get(exc.status_code, str(exc.detail))
        return json_error(exc.status_code, code, message, exc.headers)

    async def pos_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, domain_errors.PosError)
        status, code = _error_for_pos_error(exc)
        return json_error(status, code, exc.message)

    async def gateway_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, provider_base.GatewayError)
        status, code = _error_for_gateway(exc)
        log.warning("gateway error answered as %s: %s", status, exc.reason)
        return json_error(status, code, exc.reason)

    async def unexpected(_request: Request, exc: Exception) -> Response:
        log.error("unexpected error", exc_info=exc)
        return json_error(500, "internal", "The engine hit an unexpected error — nothing was charged twice; try again.")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(domain_errors.PosError, pos_error)
    app.add_exception_handler(provider_base.GatewayError, gateway_error)
    app.add_exception_handler(Exception, unexpected)
