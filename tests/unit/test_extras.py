"""A command that needs an absent part of the install says which, and the pip command that adds it."""

from __future__ import annotations

import pytest

from pos_app import extras
from pos_app.extras import MissingExtra, require


def test_present_extras_pass() -> None:
    assert extras.missing("engine") == []
    require("engine", "sandbox", what="pos engine serve")


def test_an_absent_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(extras.EXTRA_MODULES, "printer", ("escpos", "no_such_module_pos_test"))
    with pytest.raises(MissingExtra) as caught:
        require("engine", "printer", what="Printing a receipt")
    assert caught.value.message == (
        "Printing a receipt needs the 'printer' part of pos-app, which is not installed: "
        "pip install 'pos-app[printer]' (or 'pos-app[all]')."
    )
