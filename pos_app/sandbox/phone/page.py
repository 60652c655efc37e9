"""Reading a page the way the simulated phone needs it, with the standard library's ``html.parser``.

What the contract puts on the engine's pages (issue 19):

- the bridge data, ``<script type="application/json" id="pos-bridge">{…}</script>``;
- on a store page, the amount form ``<form id="pos-amount" method="post" action="…">`` with
  ``<input name="amount">`` and hidden inputs that must all be sent back;
- on the wallets' own error pages (the sandbox's), ``<div id="wallet-error" data-errcode="…">``.

Plus the visible text, for pages that are none of these ("open it with WeChat or Alipay").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

BRIDGE_ID = "pos-bridge"
AMOUNT_FORM_ID = "pos-amount"
WALLET_ERROR_ID = "wallet-error"
_INVISIBLE = frozenset({"script", "style", "template", "head", "title"})


@dataclass(slots=True)
class AmountForm:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)  # every named input, in page order


@dataclass(slots=True)
class Page:
    title: str = ""
    text: str = ""
    bridge_json: str | None = None
    amount_form: AmountForm | None = None
    wallet_error: dict[str, str] | None = None  # data-* attributes of the wallets' error page

    def bridge(self) -> dict[str, Any]:
        """The ``#pos-bridge`` object; ValueError when it is missing or not a JSON object."""
        if self.bridge_json is None:
            raise ValueError("the page has no #pos-bridge data")
        value = json.loads(self.bridge_json)
        if not isinstance(value, dict):
            raise ValueError("#pos-bridge is not a JSON object")
        return value


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._stack: list[str] = []
        self._in_bridge = False
        self._bridge_parts: list[str] = []
        self._in_form = False
        self._in_title = False
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        element_id = values.get("id")
        if tag == "script" and element_id == BRIDGE_ID:
            self._in_bridge = True
        if tag == "form" and element_id == AMOUNT_FORM_ID:
            self._in_form = True
            self.page.amount_form = AmountForm(
                action=values.get("action", ""), method=(values.get("method") or "get").lower()
            )
        if tag in ("input", "select", "textarea") and self._in_form and self.page.amount_form is not None:
            name = values.get("name")
            if name and values.get("type", "").lower() not in ("submit", "button", "image", "reset"):
                self.page.amount_form.fields[name] = values.get("value", "")
        if element_id == WALLET_ERROR_ID:
            self.page.wallet_error = {k[5:]: v for k, v in values.items() if k.startswith("data-")}
        if tag == "title":
            self._in_title = True
        if tag not in ("input", "meta", "link", "br", "img", "hr"):
            self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_bridge = False
        if tag == "form":
            self._in_form = False
        if tag == "title":
            self._in_title = False
        if tag in self._stack:
            while self._stack and self._stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self._in_bridge:
            self._bridge_parts.append(data)
            return
        if self._in_title:
            self.page.title += data.strip()
            return
        if not any(tag in _INVISIBLE for tag in self._stack) and data.strip():
            self._text.append(" ".join(data.split()))

    def close(self) -> None:
        super().close()
        if self._bridge_parts:
            self.page.bridge_json = "".join(self._bridge_parts).strip()
        self.page.text = " ".join(self._text)


def read_page(html_text: str) -> Page:
    reader = _Reader()
    reader.feed(html_text)
    reader.close()
    return reader.page
