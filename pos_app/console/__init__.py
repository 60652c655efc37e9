"""The managers' web console (DESIGN.md §2, issue 17): a separate process, ``pos console serve``.

It reads the engine ledger (payments, refunds, gateway calls) and writes only its own tables there
(accounts, sessions, audit: ``pos_app.engine.store.console_accounts``). It holds no provider key and
never imports the engine's providers or use cases (import-linter contract in pyproject.toml).
Pages are rendered on the server from the templates beside this file; every asset is packaged.
"""
