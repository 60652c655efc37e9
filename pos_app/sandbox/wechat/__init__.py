"""The simulated WeChat Pay APIv3 gateway (direct-merchant mode), written from specs/wechatpay-v3.md alone.

- :mod:`.protocol` — request verification, signed answers and error bodies (the wire rules);
- :mod:`.validation` — field checks of request bodies; :mod:`.views` — transaction and refund objects;
- :mod:`.rules` — the business rules (create, close, reverse, refund, what comes due, paying a QR);
- :mod:`.store` — its tables in the sandbox SQLite; :mod:`.ids` — new gateway identifiers;
- :mod:`.notify` — TRANSACTION.SUCCESS and REFUND.* notifications; :mod:`.bills` — the trade bill;
- :mod:`.oauth`, :mod:`.bridge`, :mod:`.web_store`, :mod:`.web_routes` — the web side of JSAPI
  (specs/wechatpay-jsapi.md): silent OAuth, the code exchange, the ``getBrandWCPayRequest`` bridge check;
- :mod:`.routes` — the HTTP routes on the real paths and the hooks (tables, ticker, notification
  signer, ``weixin://wxpay/bizpayurl`` wallet handler).
"""
