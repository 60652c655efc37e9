"""The JSON objects the journal stores (event payloads, counts, report contents): checked and decoded.

Payloads hold JSON values only (str, int, bool, None, lists, dicts with str keys) and never floats:
money is integer fen. Both the tables (:mod:`.models`, reading a stored payload) and the event log
(:mod:`.events`, writing one) use this module, which imports neither.
"""

from __future__ import annotations

import json
from typing import Any


def check_json(value: Any, where: str) -> None:
    """TypeError unless ``value`` is made of JSON values only, with no float anywhere in it."""
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        raise TypeError(f"{where}: floats are not allowed in journal payloads (money is int fen)")
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_json(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: payload keys must be strings, not {key!r}")
            check_json(item, f"{where}.{key}")
        return
    raise TypeError(f"{where}: {type(value).__name__} is not a JSON value")


def load_payload(text: str) -> dict[str, Any]:
    """The JSON object stored as ``text``; ValueError if it is valid JSON but not an object."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("an event payload must be a JSON object")
    return value
