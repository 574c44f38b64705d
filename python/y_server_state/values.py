"""The values a key holds: JSON values only, handed out as copies so none diverges from the shared one.

Example::

    checked("count", 1)          # 1
    checked("when", object())    # TypeError naming the key
    fingerprint({"b": 1, "a": 2}) == fingerprint({"a": 2, "b": 1})  # True
"""

from __future__ import annotations

import json
from typing import Any


def checked(key: str, value: Any) -> Any:
    """A JSON copy of ``value``; a value JSON cannot hold (a set, NaN, an object) is a TypeError naming ``key``."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as err:
        raise TypeError(f"server state key {key!r}: not a JSON value ({err})") from None


def fingerprint(value: Any) -> str:
    """A string equal for deep-equal JSON values, whatever their dicts' order."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def copied(value: Any) -> Any:
    """A deep copy of a JSON value, so the caller may mutate what it read."""
    if isinstance(value, (dict, list)):
        return json.loads(json.dumps(value))
    return value
