"""WeChat's web side on its real paths, plus the sandbox-only bridge check (spec jsapi §2, §6).

- ``GET /connect/oauth2/authorize`` (open.weixin.qq.com) — 302 back with a code, or WeChat's error page;
- ``GET /sns/oauth2/access_token`` (api.weixin.qq.com) — code → openid, JSON (HTTP 200 even for errors);
- ``POST /sandbox/bridge/wechat`` — what ``WeixinJSBridge.invoke('getBrandWCPayRequest')`` would do.

The JSAPI prepay itself is ``POST /v3/pay/transactions/jsapi`` in :mod:`.routes`. Importing this module
registers the tables.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from pos_app.sandbox.context import SandboxContext, get_ctx, register_setup
from pos_app.sandbox.simulated_user import OAUTH_ERROR_HEADER, USER_HEADER, simulated_user
from pos_app.sandbox.webauth import BRIDGE_CORS_HEADERS, wallet_error_page
from pos_app.sandbox.wechat import bridge, oauth, web_store

log = logging.getLogger(__name__)
router = APIRouter(tags=["wechat-web"])
Ctx = Annotated[SandboxContext, Depends(get_ctx)]


def _forced_error(value: str | None) -> int | None:
    if not value:
        return None
    try:
        code = int(value)
    except ValueError:
        return None
    return code if code in oauth.FORCIBLE_ERRORS else None


@router.get("/connect/oauth2/authorize", response_model=None)
async def authorize(request: Request, ctx: Ctx) -> Response:
    user = simulated_user(request.headers.get(USER_HEADER))
    try:
        target = oauth.authorize(
            ctx,
            oauth.AuthorizeRequest(
                raw_query=request.url.query,
                user=user,
                forced_error=_forced_error(request.headers.get(OAUTH_ERROR_HEADER)),
            ),
        )
    except oauth.AuthorizeRefused as refused:
        log.info("wechat authorize refused: %s", refused.errcode)
        return wallet_error_page("wechat", refused.errcode, refused.message)
    return RedirectResponse(target, status_code=302)


@router.get("/sns/oauth2/access_token")
async def access_token(request: Request, ctx: Ctx) -> JSONResponse:
    return JSONResponse(oauth.exchange_code(ctx, dict(request.query_params)))


class WechatBridgeBody(BaseModel):
    """The bridge call of the simulated phone (sandbox-only)."""

    page_url: str = Field(description="URL of the page calling the bridge (checked against the pay directory).")
    pay: dict[str, Any] = Field(description="The object the page passes to getBrandWCPayRequest.")
    user: str = Field("demo-user", description="The simulated WeChat user paying.")
    choice: Literal["pay", "cancel", "fail"] = "pay"
    quirk: Literal["none", "cancel_although_paid", "no_callback"] = "none"
    notify: Literal["normal", "delay", "drop"] = "normal"
    notify_delay_s: float = Field(30.0, ge=0)


@router.options("/sandbox/bridge/wechat")
async def bridge_preflight() -> Response:
    return Response(status_code=204, headers=BRIDGE_CORS_HEADERS)


@router.post("/sandbox/bridge/wechat")
async def bridge_check(body: WechatBridgeBody, ctx: Ctx, response: Response) -> dict[str, Any]:
    response.headers.update(BRIDGE_CORS_HEADERS)
    answer = bridge.invoke(
        ctx,
        bridge.BridgeRequest(
            page_url=body.page_url,
            pay={k: v for k, v in body.pay.items() if isinstance(v, str)},
            user=simulated_user(body.user),
            choice=body.choice,
            quirk=body.quirk,
            notify=body.notify,
            notify_delay_s=body.notify_delay_s,
        ),
    )
    return asdict(answer)


def _setup(ctx: SandboxContext) -> None:
    ctx.store.ensure_schema(web_store.WECHAT_WEB_DDL)


register_setup("wechat-web", _setup)
