"""The wallets' JS bridges for a real (headless) browser: a script to run before any page script.

:mod:`.scan` plays the phone over plain HTTP and does what the contract says the page's script does.
To run the page's *own* script instead — in Chromium with a wallet's User-Agent and a phone viewport —
inject :func:`bridge_script` into every document before it loads (Chrome DevTools
``Page.addScriptToEvaluateOnNewDocument``). It defines ``WeixinJSBridge`` or ``AlipayJSBridge`` a
moment after the page starts (they are injected asynchronously in the real apps too), fires
``WeixinJSBridgeReady`` / ``AlipayJSBridgeReady``, and answers ``invoke('getBrandWCPayRequest')`` /
``call('tradePay')`` through the sandbox's bridge-check endpoint, so the page's callback gets exactly
what the sandbox decided. The sandbox allows these cross-origin calls (CORS) on its bridge endpoints.
"""

from __future__ import annotations

import json

from pos_app.sandbox.simulated_user import DEFAULT_USER

#: How long after the page starts the bridge appears (the page must wait for the Ready event).
BRIDGE_DELAY_MS = 150

_TEMPLATE = """
(function () {
  var options = __OPTIONS__;
  function check(body, done) {
    body.user = options.user; body.choice = options.choice; body.quirk = options.quirk;
    body.notify = options.notify; body.page_url = location.href;
    fetch(options.sandbox + "/sandbox/bridge/" + options.app, {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)
    }).then(function (r) { return r.json(); }).then(function (answer) {
      window.__posBridgeAnswer = answer;
      done(answer);
    });
  }
  function install() {
    if (options.app === "wechat") {
      window.WeixinJSBridge = {
        invoke: function (name, pay, cb) {
          if (name !== "getBrandWCPayRequest") { return; }
          check({pay: pay}, function (a) { if (a.err_msg) { cb({err_msg: a.err_msg, err_desc: a.err_desc}); } });
        }
      };
      document.dispatchEvent(new Event("WeixinJSBridgeReady"));
    } else {
      window.AlipayJSBridge = {
        call: function (name, params, cb) {
          if (name !== "tradePay") { return; }
          check({tradeNO: String((params || {}).tradeNO || "")}, function (a) { if (a.callback) { cb(a.callback); } });
        }
      };
      document.dispatchEvent(new Event("AlipayJSBridgeReady"));
    }
  }
  setTimeout(install, __DELAY__);
})();
"""


def bridge_script(
    app: str,
    sandbox_url: str,
    *,
    user: str = DEFAULT_USER,
    choice: str = "pay",
    quirk: str = "none",
    notify: str = "normal",
    delay_ms: int = BRIDGE_DELAY_MS,
) -> str:
    """The JS that plays ``app``'s bridge (``"wechat"`` or ``"alipay"``) against the sandbox at ``sandbox_url``."""
    if app not in ("wechat", "alipay"):
        raise ValueError(f"no JS bridge for {app!r}")
    options = {
        "app": app,
        "sandbox": sandbox_url.rstrip("/"),
        "user": user,
        "choice": choice,
        "quirk": quirk,
        "notify": notify,
    }
    # json.dumps escapes quotes; "</" cannot end a script element here (this runs via DevTools, not HTML).
    return _TEMPLATE.replace("__OPTIONS__", json.dumps(options)).replace("__DELAY__", str(int(delay_ms)))
