"""Every text a console template translates is marked for extraction (pos_app/console/words.py), so
the catalogs get it; the templates' own literals are found here the way a translator would read them."""

from __future__ import annotations

import re

from pos_app.console.web import TEMPLATES
from pos_app.console.words import TEMPLATE_TEXTS

_LITERAL = re.compile(r"""_\((["'])(.+?)\1\)""")


def test_every_template_text_is_marked_for_the_catalogs() -> None:
    found = {m.group(2) for path in TEMPLATES.glob("*.html") for m in _LITERAL.finditer(path.read_text("utf-8"))}
    assert found, "no translated text found in the templates"
    assert found - set(TEMPLATE_TEXTS) == set()


def test_no_text_is_marked_that_no_template_uses() -> None:
    used = "".join(path.read_text("utf-8") for path in TEMPLATES.glob("*.html"))
    assert [t for t in TEMPLATE_TEXTS if t not in used] == []
