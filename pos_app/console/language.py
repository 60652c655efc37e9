"""The language of one console page: each browser chooses its own (a cookie), unlike the till's
one-language process, so the console translates per request with the same catalogs (pos_app/locale)."""

from __future__ import annotations

import functools
import gettext
from collections.abc import Callable

from pos_app.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

COOKIE = "pos_console_lang"


@functools.cache
def translator(language: str) -> Callable[[str], str]:
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True).gettext


def choose(cookie: str | None, asked: str | None, accept_language: str) -> str:
    """``?lang=`` wins, then the cookie, then the browser's Accept-Language (Chinese or else English)."""
    for value in (asked, cookie):
        if value in LANGUAGES:
            return value
    return "zh_CN" if accept_language.strip().lower().startswith("zh") else "en"
