"""Downloads: text a till typed never becomes a spreadsheet formula."""

from __future__ import annotations

from pos_app.console.pages.export import _cell


def test_a_cashier_name_never_becomes_a_spreadsheet_formula() -> None:
    assert _cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert [_cell(t) for t in ("+1", "-1", "@a", "李雷", "Ann")] == ["'+1", "'-1", "'@a", "李雷", "Ann"]
