"""WeChat web OAuth (snsapi_base), JSAPI prepay and the bridge check on the sandbox (specs/wechatpay-jsapi.md).

Every request is built here by hand from the spec: the authorize link in WeChat's strict parameter
order, the code exchange, the v3-signed prepay (the conftest's own signer) and the ``paySign`` of the
bridge, computed with ``cryptography`` directly — the first test reproduces the spec's paySign vector
with that very function.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pos_app.config import Settings
from pos_app.sandbox.wechat.oauth import openid_for
from tests.contract.sandbox.conftest import NOTIFY_URL, START, Sandbox, decrypt

ENGINE = "https://pay.example.com"
VECTORS = Path("/work/shared/vectors/signing.json")
APP_SECRET = "sandbox0appsecret0for0tests0000"


def pay_sign(key: rsa.RSAPrivateKey, app_id: str, timestamp: str, nonce: str, package: str) -> str:
    """Spec §4: Base64(SHA256withRSA(appId\\ntimeStamp\\nnonceStr\\npackage\\n)) with the merchant key."""
    message = f"{app_id}\n{timestamp}\n{nonce}\n{package}\n".encode()
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def test_the_spec_pay_sign_vector_is_reproduced() -> None:
    vector = json.loads(VECTORS.read_text("utf-8"))["wechatpay_request_signature"]
    key = serialization.load_pem_private_key(vector["private_key_pem"].encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    expected = (
        "mIDSHc+67tlJlgnSkB1BD1+B08suWtz70aoSI6wwGE+0FC5qnMkKFLn/yl0aFCeD+vrTrztwbyAhgb+RuVEMk3N/d2VYVR+uWt27BqR58mWd"
        "lYufNvBwmMwCLXYyDrnWXFUF5OYnVX8ey3NouScOWlCAr7QzbmL7pja1MbuupT7JfIJbI5rzDcVFvFpKbLX93nG5eJcYomKf2Ubiwu0/ZdlL"
        "Ox848ToI0US0g9g7I0jBUB7tx1eDV+InsYDvHSkGdNjz2xvg3lx7ZaPgIuTRQzf8o5W2RVndInqYfRdyDn0pmqILM76lUlTAlub38D4oViu5To"
        "7WihblSEIa+O47Bg=="
    )
    args = ("wx8888888888888888", "1414561699", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS")
    package = "prepay_id=wx201410272009395522657a690389285100"
    assert pay_sign(key, *args, package) == expected


@pytest.fixture
def web_settings(demo_settings: Settings) -> Settings:
    settings = demo_settings.model_copy(deep=True)
    settings.engine.public_url = ENGINE
    assert settings.wechatpay.oauth_secret_file is not None
    secret_path = settings.path(settings.wechatpay.oauth_secret_file)
    secret_path.parent.mkdir(parents=True, exist_ok=True)
    secret_path.write_text(APP_SECRET + "\n", "utf-8")
    return settings


@pytest.fixture
async def box(make_sandbox: Any, web_settings: Settings) -> Sandbox:
    made: Sandbox = await make_sandbox(web_settings)
    return made


def authorize_url(appid: str, redirect_uri: str, state: str = "st8T0ken", scope: str = "snsapi_base") -> str:
    """Spec §2, step 1, in WeChat's strict parameter order."""
    return (
        f"/connect/oauth2/authorize?appid={appid}&redirect_uri={quote(redirect_uri, safe='')}"
        f"&response_type=code&scope={scope}&state={state}#wechat_redirect"
    )


async def oauth_code(box: Sandbox, user: str = "alice", *, force: int | None = None, path: str = "/q/t1/wechat") -> str:
    headers = {"X-Sandbox-User": user}
    if force is not None:
        headers["X-Sandbox-Oauth-Error"] = str(force)
    url = authorize_url(box.merchant.appid, ENGINE + path).partition("#")[0]
    response = await box.http.get(url, headers=headers)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(ENGINE + path + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st8T0ken"]
    return query["code"][0]


async def exchange(box: Sandbox, code: str, *, secret: str = APP_SECRET, appid: str | None = None) -> dict[str, Any]:
    params = {
        "appid": appid or box.merchant.appid,
        "secret": secret,
        "code": code,
        "grant_type": "authorization_code",
    }
    response = await box.http.get("/sns/oauth2/access_token", params=params)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


async def openid_of(box: Sandbox, user: str = "alice") -> str:
    return str((await exchange(box, await oauth_code(box, user)))["openid"])


async def prepay(box: Sandbox, otn: str, openid: str, total: int = 2300, **extra: Any) -> httpx.Response:
    body = box.wechat.order(otn, total, notify_url=NOTIFY_URL, payer={"openid": openid}, **extra)
    return await box.wechat.request("POST", "/v3/pay/transactions/jsapi", body)


def bridge_params(box: Sandbox, prepay_id: str, **override: str) -> dict[str, str]:
    params = {
        "appId": box.merchant.appid,
        "timeStamp": str(int(box.clock.now())),
        "nonceStr": secrets.token_hex(16),
        "package": f"prepay_id={prepay_id}",
        "signType": "RSA",
    }
    params.update({k: v for k, v in override.items() if k != "paySign"})
    params["paySign"] = override.get("paySign") or pay_sign(
        box.merchant.key, params["appId"], params["timeStamp"], params["nonceStr"], params["package"]
    )
    return params


async def invoke(box: Sandbox, pay: dict[str, str], *, user: str = "alice", **options: Any) -> dict[str, Any]:
    body = {"page_url": ENGINE + "/q/t1/wechat?code=x&state=y", "pay": pay, "user": user, **options}
    response = await box.http.post("/sandbox/bridge/wechat", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


# ---- OAuth -----------------------------------------------------------------------------------------


async def test_silent_oauth_gives_a_stable_openid_per_appid_and_user(box: Sandbox) -> None:
    code = await oauth_code(box, "alice")
    assert re.fullmatch(r"[0-9A-Za-z]{32}", code)
    answer = await exchange(box, code)
    assert set(answer) == {"access_token", "expires_in", "refresh_token", "openid", "scope"}
    assert answer["expires_in"] == 7200 and answer["scope"] == "snsapi_base"
    assert re.fullmatch(r"o[0-9A-Za-z_\-]{27}", answer["openid"])
    assert await openid_of(box, "alice") == answer["openid"]  # the same user, a new code: the same openid
    assert await openid_of(box, "bob") != answer["openid"]


async def test_codes_are_single_use_and_live_five_minutes(box: Sandbox) -> None:
    code = await oauth_code(box)
    assert "openid" in await exchange(box, code)
    reused = await exchange(box, code)
    assert reused["errcode"] == 40029 and reused["errmsg"].startswith("invalid code, rid: ")
    late = await oauth_code(box)
    box.clock.advance(301)
    assert (await exchange(box, late))["errcode"] == 40029
    assert (await exchange(box, "nonexistent0code"))["errcode"] == 40029


async def test_appid_secret_and_grant_checks(box: Sandbox, web_settings: Settings) -> None:
    code = await oauth_code(box)
    assert (await exchange(box, code, secret="wrong-secret"))["errcode"] == 40125
    assert (await exchange(box, code, appid="wx1111111111111111"))["errcode"] == 40013
    assert "openid" in await exchange(box, code)  # the refused attempts did not burn the code
    # Without the AppSecret file the sandbox invents nothing: every exchange is 40125.
    assert web_settings.wechatpay.oauth_secret_file is not None
    web_settings.path(web_settings.wechatpay.oauth_secret_file).unlink()
    assert (await exchange(box, await oauth_code(box)))["errcode"] == 40125


@pytest.mark.parametrize("forced", [40029, 40163, -1])
async def test_forced_exchange_errors(box: Sandbox, forced: int) -> None:
    answer = await exchange(box, await oauth_code(box, force=forced))
    assert answer["errcode"] == forced and "openid" not in answer


@pytest.mark.parametrize(
    ("url", "errcode"),
    [
        (authorize_url("APPID", "https://evil.example.com/q/t1/wechat"), "10003"),
        (authorize_url("APPID", ENGINE + "/q/t1/wechat", scope="snsapi_login"), "10005"),
        (authorize_url("wx1111111111111111", ENGINE + "/q/t1/wechat"), "40013"),
        (authorize_url("APPID", ENGINE + "/q/t1/wechat", state=""), "10013"),
        (authorize_url("APPID", ENGINE + "/q/t1/wechat", state="has-dash"), "10013"),
        (
            "/connect/oauth2/authorize?redirect_uri=https%3A%2F%2Fpay.example.com%2Fq&appid=APPID"
            "&response_type=code&scope=snsapi_base&state=s",
            "-1",
        ),
        (
            "/connect/oauth2/authorize?appid=APPID&redirect_uri=https%3A%2F%2Fpay.example.com%2Fq"
            "&response_type=token&scope=snsapi_base&state=s",
            "10010",
        ),
    ],
)
async def test_authorize_refusals_stay_on_wechats_page(box: Sandbox, url: str, errcode: str) -> None:
    response = await box.http.get(url.replace("APPID", box.merchant.appid).partition("#")[0])
    assert response.status_code == 200 and "location" not in response.headers
    assert f"data-errcode='{errcode}'" in response.text


# ---- JSAPI prepay ------------------------------------------------------------------------------------


async def test_prepay_id_form_idempotence_and_two_hour_renewal(box: Sandbox) -> None:
    openid = await openid_of(box)
    first = await prepay(box, "SBXJS0001", openid)
    assert first.status_code == 200 and box.verify(first)
    prepay_id = first.json()["prepay_id"]
    assert re.fullmatch(r"wx" + START.strftime("%Y%m%d%H%M%S") + r"[0-9a-z]{20}", prepay_id)
    assert len(prepay_id) == 36
    assert (await prepay(box, "SBXJS0001", openid)).json() == {"prepay_id": prepay_id}
    changed = await prepay(box, "SBXJS0001", openid, total=2301)
    assert changed.status_code == 400 and changed.headers["request-id"].endswith("-268498688")
    box.clock.advance(2 * 3600 + 1)
    renewed = (await prepay(box, "SBXJS0001", openid)).json()["prepay_id"]
    assert renewed != prepay_id and len(renewed) == 36
    query = (await box.wechat.query("SBXJS0001")).json()
    assert query["trade_type"] == "JSAPI" and query["trade_state"] == "NOTPAY"


async def test_prepay_refuses_missing_and_foreign_openids(box: Sandbox) -> None:
    missing = await box.wechat.request(
        "POST", "/v3/pay/transactions/jsapi", box.wechat.order("SBXJS0002", 100, notify_url=NOTIFY_URL)
    )
    assert (missing.status_code, missing.json()["code"]) == (400, "PARAM_ERROR")
    assert missing.json()["message"] == "JSAPI支付必须传openid"
    assert missing.headers["request-id"].endswith("-268501013")
    # alice's openid under another official account (e.g. a mini-program the shop also runs)
    foreign = openid_for(box.ctx, "wx1111111111111111", "alice")
    refused = await prepay(box, "SBXJS0002", foreign)
    assert (refused.status_code, refused.json()["code"]) == (400, "PARAM_ERROR")
    assert refused.json()["message"] == "appid和openid不匹配"
    malformed = await prepay(box, "SBXJS0002", "o!")
    assert (malformed.status_code, malformed.json()["code"]) == (400, "PARAM_ERROR")


# ---- the bridge ----------------------------------------------------------------------------------------


async def _ready(box: Sandbox, otn: str, user: str = "alice") -> str:
    response = await prepay(box, otn, await openid_of(box, user))
    assert response.status_code == 200, response.text
    return str(response.json()["prepay_id"])


async def test_pay_sends_the_encrypted_notification_and_query_says_success(box: Sandbox) -> None:
    prepay_id = await _ready(box, "SBXJS0010")
    answer = await invoke(box, bridge_params(box, prepay_id))
    assert answer["err_msg"] == "get_brand_wcpay_request:ok" and answer["trade_state"] == "SUCCESS"
    paid = (await box.wechat.query("SBXJS0010")).json()
    assert paid["trade_state"] == "SUCCESS" and paid["trade_type"] == "JSAPI"
    assert paid["payer"]["openid"] == await openid_of(box, "alice")
    await box.advance(0)
    [(headers, body)] = box.receiver.received
    envelope = json.loads(body)
    assert envelope["event_type"] == "TRANSACTION.SUCCESS"
    plain = json.loads(decrypt(box.merchant.apiv3, envelope["resource"]))
    assert plain["out_trade_no"] == "SBXJS0010" and plain["trade_type"] == "JSAPI"
    assert plain["payer"]["openid"] == paid["payer"]["openid"]
    again = await invoke(box, bridge_params(box, prepay_id))
    assert again["err_msg"] == "get_brand_wcpay_request:fail" and again["err_desc"] == "该订单已支付"


async def test_cancel_and_fail_leave_the_order_unpaid(box: Sandbox) -> None:
    prepay_id = await _ready(box, "SBXJS0011")
    cancel = await invoke(box, bridge_params(box, prepay_id), choice="cancel")
    assert cancel["err_msg"] == "get_brand_wcpay_request:cancel"
    fail = await invoke(box, bridge_params(box, prepay_id), choice="fail")
    assert fail["err_msg"] == "get_brand_wcpay_request:fail"
    assert (await box.wechat.query("SBXJS0011")).json()["trade_state"] == "NOTPAY"
    await box.advance(0)
    assert box.receiver.received == []
    assert (await invoke(box, bridge_params(box, prepay_id)))["err_msg"] == "get_brand_wcpay_request:ok"


@pytest.mark.parametrize(
    ("quirk", "err_msg"), [("cancel_although_paid", "get_brand_wcpay_request:cancel"), ("no_callback", None)]
)
async def test_the_callback_can_lie_the_order_is_paid(box: Sandbox, quirk: str, err_msg: str | None) -> None:
    prepay_id = await _ready(box, "SBXJS0012")
    answer = await invoke(box, bridge_params(box, prepay_id), quirk=quirk)
    assert answer["err_msg"] == err_msg
    assert (await box.wechat.query("SBXJS0012")).json()["trade_state"] == "SUCCESS"


async def test_notification_dropped_or_delayed(box: Sandbox) -> None:
    dropped = await _ready(box, "SBXJS0013")
    assert (await invoke(box, bridge_params(box, dropped), notify="drop"))["trade_state"] == "SUCCESS"
    await box.advance(0)
    assert box.receiver.received == []
    delayed = await _ready(box, "SBXJS0014")
    await invoke(box, bridge_params(box, delayed), notify="delay", notify_delay_s=20)
    await box.advance(19)
    assert box.receiver.received == []
    await box.advance(1)
    assert len(box.receiver.received) == 1


async def test_bridge_checks(box: Sandbox) -> None:
    prepay_id = await _ready(box, "SBXJS0020")
    good = bridge_params(box, prepay_id)

    async def desc(pay: dict[str, str], **options: Any) -> str:
        answer = await invoke(box, pay, **options)
        assert answer["err_msg"] == "get_brand_wcpay_request:fail", answer
        return str(answer["err_desc"])

    assert await desc(good, page_url="https://other.example.com/q/t1/wechat") == "当前页面的URL未注册"
    assert await desc(good, page_url="http://pay.example.com/q/t1/wechat") == "当前页面的URL未注册"
    assert "缺少参数" in await desc(bridge_params(box, prepay_id, appId="wx1111111111111111"))
    assert "缺少参数" in await desc(bridge_params(box, "wx20261120100000unknown0prepay0id0"))
    assert await desc(good, user="bob") == "下单账号与支付账号不一致"
    # Negative paySign cases of spec §7: each changes or breaks the signature.
    no_newline = base64.b64encode(
        box.merchant.key.sign(
            f"{good['appId']}\n{good['timeStamp']}\n{good['nonceStr']}\n{good['package']}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    ).decode()
    assert await desc({**good, "paySign": no_newline}) == "支付验证签名失败"
    millis = bridge_params(box, prepay_id, timeStamp=str(int(box.clock.now()) * 1000))
    assert await desc(millis) == "支付验证签名失败"
    assert await desc({**good, "nonceStr": good["nonceStr"] + "x"}) == "支付验证签名失败"
    assert await desc({**good, "signType": "MD5"}) == "支付验证签名失败"
    assert (await box.wechat.query("SBXJS0020")).json()["trade_state"] == "NOTPAY"
    box.clock.advance(2 * 3600)
    assert "缺少参数" in await desc(bridge_params(box, prepay_id))  # a prepay_id lives 2 h


async def test_close_and_refund_work_on_jsapi_orders(box: Sandbox) -> None:
    closed_id = await _ready(box, "SBXJS0030")
    assert (await box.wechat.close("SBXJS0030")).status_code == 204
    answer = await invoke(box, bridge_params(box, closed_id))
    assert (answer["err_desc"], answer["trade_state"]) == ("订单已关闭", "CLOSED")
    reposted = await prepay(box, "SBXJS0030", await openid_of(box))
    assert (reposted.status_code, reposted.json()["code"]) == (400, "ORDER_CLOSED")

    paid_id = await _ready(box, "SBXJS0031")
    assert (await invoke(box, bridge_params(box, paid_id)))["trade_state"] == "SUCCESS"
    refund = await box.wechat.refund("SBXJS0031", "RSBXJS0031", 1000, 2300)
    assert refund.status_code == 200 and refund.json()["status"] == "PROCESSING"
    await box.advance(3)
    assert (await box.wechat.query("SBXJS0031")).json()["trade_state"] == "REFUND"
