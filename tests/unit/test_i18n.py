"""The message catalogs: the language is chosen from the profile or the system, Chinese texts come
from the compiled catalog, and every text in the code has a Chinese translation."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from pos_app import i18n

PO = Path(i18n.__file__).parent / "locale" / "zh_CN" / "LC_MESSAGES" / "pos.po"


@pytest.fixture(autouse=True)
def english_afterwards() -> object:
    yield
    i18n.set_language("en")


def test_the_system_locale_chooses_chinese_or_english(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    assert i18n.system_language() == "en"
    monkeypatch.setenv("LANG", "zh_TW.UTF-8")
    assert i18n.system_language() == "zh_CN"
    assert i18n.set_language(None) == "zh_CN"
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    assert i18n.set_language(None) == "en"


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="zh_CN"):
        i18n.set_language("fr")


def test_dates_follow_the_language() -> None:
    i18n.set_language("zh_CN")
    assert i18n.format_day(date(2026, 12, 5)) == "2026年12月5日"
    i18n.set_language("en")
    assert i18n.format_day(date(2026, 12, 5)) == "Dec 5, 2026"


def test_every_text_has_a_chinese_translation() -> None:
    with PO.open("rb") as handle:
        catalog = read_po(handle)
    untranslated = [m.id for m in catalog if m.id and not m.string]
    assert untranslated == []
    i18n.set_language("zh_CN")
    for message in catalog:
        if message.id and isinstance(message.id, str):
            assert i18n._(message.id) == message.string  # the compiled .mo matches the .po
