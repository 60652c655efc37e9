"""WeChat web OAuth, silent scope (``snsapi_base``): the authorize URL and code → openid (spec
specs/wechatpay-jsapi.md §2).

The AppSecret is read from ``[wechatpay] oauth_secret_file`` by the factory and only ever sent to
``sns/oauth2/access_token``: it is never logged, never part of an error message (httpx's own errors
carry the URL with the secret in its query, so they are mapped to fixed messages here).
Errors are decided on ``errcode`` only (``errmsg`` carries request-id suffixes).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import httpx

from pos_app.engine.providers.base import ConfigurationError, DefiniteFailure, OAuthCodeInvalid, OutcomeUnknownError
from pos_app.engine.providers.tls import gateway_tls

log = logging.getLogger(__name__)

#: The code is expired, already used, wrong, or of another appid (40163: "code been used").
CODE_INVALID = frozenset({40029, 40163})
CONFIGURATION = {40125: "invalid appsecret", 40013: "invalid appid"}


class SnapshotUser(DefiniteFailure):
    """WeChat's snapshot-page virtual user (``is_snapshotuser``): cannot pay until the page is opened fully."""


class WechatOAuth:
    def __init__(
        self,
        *,
        appid: str,
        secret: str,
        oauth_url: str,
        sns_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.appid = appid
        self._secret = secret
        self._oauth_url = oauth_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=sns_url.rstrip("/"), transport=transport, timeout=timeout_s, verify=gateway_tls()
        )

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        """The authorize link with its parameters in the documented order (WeChat matches it strictly)."""
        return (
            f"{self._oauth_url}/connect/oauth2/authorize?appid={quote(self.appid, safe='')}"
            f"&redirect_uri={quote(redirect_uri, safe='')}&response_type=code&scope=snsapi_base"
            f"&state={quote(state, safe='')}#wechat_redirect"
        )

    async def openid(self, code: str) -> str:
        """Exchange a code once (never retried: a repeat of the same code is 40029)."""
        params = {"appid": self.appid, "secret": self._secret, "code": code, "grant_type": "authorization_code"}
        try:
            response = await self._http.get("/sns/oauth2/access_token", params=params)
        except httpx.HTTPError as exc:
            # Never str(exc): it may carry the request URL, secret included.
            raise OutcomeUnknownError(
                f"WeChat did not answer the sign-in ({type(exc).__name__}).", code="OAUTH_TRANSPORT"
            ) from None
        if response.status_code >= 500:
            raise OutcomeUnknownError("WeChat's sign-in is not answering.", code=f"HTTP_{response.status_code}")
        try:
            data: Any = response.json()
        except ValueError:
            raise OutcomeUnknownError("WeChat's sign-in answer is unreadable.", code="UNREADABLE") from None
        if not isinstance(data, dict):
            raise OutcomeUnknownError("WeChat's sign-in answer is unreadable.", code="UNREADABLE")
        errcode = data.get("errcode")
        if isinstance(errcode, int) and errcode != 0:
            log.warning("WeChat OAuth refused the code: errcode %s", errcode)
            if errcode in CODE_INVALID:
                raise OAuthCodeInvalid("The WeChat sign-in expired — scan the code again.", code=str(errcode))
            if errcode in CONFIGURATION:
                raise ConfigurationError(
                    f"WeChat refused the official account's settings ({CONFIGURATION[errcode]}).", code=str(errcode)
                )
            raise OutcomeUnknownError("WeChat's sign-in is busy — scan the code again.", code=str(errcode))
        if data.get("is_snapshotuser") == 1:
            raise SnapshotUser("Open the page fully in WeChat to pay.", code="SNAPSHOT_USER")
        openid = data.get("openid")
        if not isinstance(openid, str) or not 1 <= len(openid) <= 128:
            raise OutcomeUnknownError("WeChat's sign-in gave no openid.", code="NO_OPENID")
        return openid

    async def aclose(self) -> None:
        await self._http.aclose()
