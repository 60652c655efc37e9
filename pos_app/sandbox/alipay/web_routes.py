"""Alipay's web side: the authorize page on its real path and the sandbox-only bridge check.

- ``GET /oauth2/publicAppAuthorize.htm`` (openauth.alipay.com) — 302 back with ``auth_code``, or
  Alipay's own error page;
- ``POST /sandbox/bridge/alipay`` — what ``AlipayJSBridge.call('tradePay')`` would do.

``alipay.system.oauth.token`` and ``alipay.trade.create`` are gateway methods in :mod:`.routes`.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from pos_app.sandbox.alipay import bridge, oauth
from pos_app.sandbox.alipay.routes import ensure_schema
from pos_app.sandbox.context import SandboxContext, get_ctx
from pos_app.sandbox.simulated_user import USER_HEADER, simulated_user
from pos_app.sandbox.webauth import BRIDGE_CORS_HEADERS, wallet_error_page

log = logging.getLogger(__name__)
router = APIRouter(tags=["alipay-web"])
Ctx = Annotated[SandboxContext, Depends(get_ctx)]


@router.get("/oauth2/publicAppAuthorize.htm", response_model=None)
async def authorize(request: Request, ctx: Ctx) -> Response:
    ensure_schema(ctx)
    user = simulated_user(request.headers.get(USER_HEADER))
    try:
        target = oauth.authorize(ctx, request.url.query, user)
    except oauth.AuthorizeRefused as refused:
        log.info("alipay authorize refused: %s", refused.code)
        return wallet_error_page("alipay", refused.code, refused.message)
    return RedirectResponse(target, status_code=302)


class AlipayBridgeBody(BaseModel):
    """The tradePay call of the simulated phone (sandbox-only)."""

    tradeNO: str = Field(description="The Alipay trade_no the page passes to tradePay.")  # noqa: N815 - JS name
    user: str = Field("demo-user", description="The simulated Alipay user paying.")
    page_url: str = Field("", description="The page calling the bridge (recorded; Alipay has no pay directory).")
    choice: Literal["pay", "cancel", "fail"] = "pay"
    quirk: Literal["none", "8000", "6004", "no_callback"] = "none"
    notify: Literal["normal", "delay", "drop"] = "normal"
    notify_delay_s: float = Field(30.0, ge=0)


@router.options("/sandbox/bridge/alipay")
async def bridge_preflight() -> Response:
    return Response(status_code=204, headers=BRIDGE_CORS_HEADERS)


@router.post("/sandbox/bridge/alipay")
async def bridge_check(body: AlipayBridgeBody, ctx: Ctx, response: Response) -> dict[str, Any]:
    response.headers.update(BRIDGE_CORS_HEADERS)
    answer = bridge.trade_pay(
        ctx,
        bridge.TradePayRequest(
            trade_no=body.tradeNO,
            user=simulated_user(body.user),
            choice=body.choice,
            quirk=body.quirk,
            notify=body.notify,
            notify_delay_s=body.notify_delay_s,
        ),
    )
    return {**asdict(answer), "callback": answer.callback()}
