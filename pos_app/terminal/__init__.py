"""The till's headless core: its use cases (sales, settling, refunds, cash, shifts, reports, history,
receipts) over the journal and the engine client, and the pure pieces the screens use (cart, keypad,
scanner timing, wording). Never imports Textual (import-linter and tests/unit/test_import_rules.py).
"""
