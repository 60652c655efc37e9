/* The pay page: hand the bridge data to the wallet, then ask the engine to check now. The wallet's
   own answer is only a hint: the engine queries the gateway and says what really happened. */
(function () {
  "use strict";
  var node = document.getElementById("pos-bridge");
  var status = document.getElementById("pos-status");
  if (!node || !status) { return; }
  var data = JSON.parse(node.textContent);
  var say = function (text) { status.textContent = text; };

  function report(result) {
    say(status.getAttribute("data-checking"));
    var xhr = new XMLHttpRequest();
    xhr.open("POST", data.result_url, true);
    xhr.setRequestHeader("Content-Type", "application/json");
    xhr.onload = function () {
      try { say(JSON.parse(xhr.responseText).message); } catch (e) { say(status.getAttribute("data-error")); }
    };
    xhr.onerror = function () { say(status.getAttribute("data-error")); };
    xhr.send(JSON.stringify({ result: result }));
  }

  function wechat() {
    window.WeixinJSBridge.invoke("getBrandWCPayRequest", data.pay, function (res) {
      var msg = (res && res.err_msg) || "";
      if (msg === "get_brand_wcpay_request:ok") { report("ok"); }
      else if (msg === "get_brand_wcpay_request:cancel") { report("cancel"); }
      else if (msg.indexOf("get_brand_wcpay_request:") === 0) { report("fail"); }
      /* other strings (e.g. pre_verify_jsapi:ok) are ignored, as the spec advises */
    });
  }

  function alipay() {
    window.AlipayJSBridge.call("tradePay", { tradeNO: data.tradeNO }, function (r) {
      var code = r && String(r.resultCode);
      report(code === "9000" ? "ok" : code === "6001" ? "cancel" : "fail");
    });
  }

  if (data.app === "wechat") {
    if (typeof window.WeixinJSBridge === "undefined") {
      document.addEventListener("WeixinJSBridgeReady", wechat, false);
    } else { wechat(); }
  } else if (data.app === "alipay") {
    if (window.AlipayJSBridge) { alipay(); }
    else { document.addEventListener("AlipayJSBridgeReady", alipay, false); }
  }
})();
