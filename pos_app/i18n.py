"""The language a cashier or manager reads: message catalogs (gettext) and locale formatting (Babel).

Every text a person reads is written in English in the code, wrapped in ``_()`` (or ``N_()`` where it
is a constant defined before the language is chosen, translated with ``_()`` where it is shown), and
translated from ``pos_app/locale/<lang>/LC_MESSAGES/pos.po`` (compiled to ``pos.mo``; ``scripts/i18n``
extracts, updates and compiles). The language is chosen once per process, before any screen is built:
``[terminal] language`` or, when unset, the system locale (``LANG`` / ``LC_ALL``).
"""

from __future__ import annotations

import gettext
import os
from datetime import date, datetime
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime, format_time

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "pos"
#: The languages with a catalog; the first is the source language of the code.
LANGUAGES = ("en", "zh_CN")

_translations: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"


def system_language() -> str:
    """``zh_CN`` when the system locale is Chinese (any region), else English."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(name, "")
        if value:
            return "zh_CN" if value.lower().startswith("zh") else "en"
    return "en"


def set_language(language: str | None) -> str:
    """Choose the language of this process (``None``: the system's). Returns the one in effect."""
    global _translations, _language
    chosen = language or system_language()
    if chosen not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {chosen!r}")
    _language = chosen
    _translations = gettext.translation(DOMAIN, LOCALE_DIR, languages=[chosen], fallback=True)
    return chosen


def language() -> str:
    return _language


def _(message: str) -> str:
    """The message in the chosen language (the English text itself when it has no translation)."""
    return _translations.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translations.ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark a constant for extraction without translating it yet (it is translated where shown)."""
    return message


def _locale() -> Locale:
    return Locale.parse(_language)


def format_day(day: date) -> str:
    """A calendar day as the reader writes it: ``Dec 5, 2026`` / ``2026年12月5日``."""
    return format_date(day, format="medium", locale=_locale())


def format_weekday(day: date) -> str:
    """A day with its weekday, the date in ISO form: ``Sunday 2026-12-06`` / ``星期日 2026-12-06``."""
    return format_date(day, format="EEEE yyyy-MM-dd", locale=_locale())


def format_moment(at: datetime) -> str:
    """A date and time, shown in the machine's local time zone."""
    return format_datetime(at.astimezone(), format="medium", locale=_locale())


def format_clock(at: datetime) -> str:
    """A time of day (``14:05:09``), in the machine's local time zone."""
    return format_time(at.astimezone(), format="HH:mm:ss", locale=_locale())
