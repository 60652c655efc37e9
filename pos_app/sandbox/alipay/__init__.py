"""The simulated Alipay face-to-face (当面付) gateway, written from specs/alipay-f2f.md alone.

- :mod:`.signing` — the three canonical strings (request, notification, raw response text);
- :mod:`.model` — trades and refunds; :mod:`.rules` — the business rules as pure functions;
- :mod:`.store` — its tables in the sandbox SQLite; :mod:`.notify` — trade_status_sync bodies;
- :mod:`.bill` — the daily 业务明细 ZIP; :mod:`.routes` — ``gateway.do``, the bill download and the
  hooks (ticker, notification preparer, ``https://qr.alipay.com/`` wallet handler).
"""
