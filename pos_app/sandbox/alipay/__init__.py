"""The simulated Alipay face-to-face (当面付) gateway, written from specs/alipay-f2f.md alone.

- :mod:`.signing` — the three canonical strings (request, notification, raw response text);
- :mod:`.model` — trades and refunds; :mod:`.rules` — the business rules as pure functions;
- :mod:`.store` — its tables in the sandbox SQLite; :mod:`.notify` — trade_status_sync bodies;
- :mod:`.oauth`, :mod:`.bridge`, :mod:`.web_routes` — the web side (specs/alipay-jsapi.md): the
  authorize page, ``alipay.system.oauth.token`` and the buyer ids, the ``tradePay`` bridge check
  (``alipay.trade.create`` is a rule in :mod:`.rules`);
- :mod:`.bill` — the daily 业务明细 ZIP; :mod:`.routes` — ``gateway.do``, the bill download and the
  hooks (ticker, notification preparer, ``https://qr.alipay.com/`` wallet handler).
"""
