"""How input values are named in error messages, and the JSON type checks those messages rest on."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

INT64 = (-(2**63), 2**63 - 1)


def is_int(v: Any) -> bool:
    """A JSON integer usable as an id (it fits int64, as COCO ids do)."""
    return isinstance(v, int) and not isinstance(v, bool) and INT64[0] <= v <= INT64[1]


def is_number(v: Any) -> bool:
    """A JSON number that fits a float64 (huge integers do not)."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        float(v)
    except OverflowError:
        return False
    return True


def kind(v: Any) -> str:
    """The JSON type of a parsed value: object, array, string, boolean, null or number."""
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(v), "number"
    )


def show(v: Any) -> str:
    """A value for a message, cut to 40 characters; None (an absent field) is "missing"."""
    if v is None:
        return "missing"
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def show_json(v: Any) -> str:
    """A value of a field that is present, as JSON spells it (null, true, false)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return show(v)


def listing(values: Iterable[Any]) -> str:
    """A short list for messages; strings are repr'd so control characters cannot break the line."""
    shown = [repr(v) if isinstance(v, str) else str(v) for v in values]
    return ", ".join(shown[:5]) + (f", ... ({len(shown)} in all)" if len(shown) > 5 else "")

