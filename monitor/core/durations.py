"""Durations as settings write them: "500ms", "5s", "2m", "1h", "21d", or combined "1m30s"."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str) -> float:
    """Seconds in ``text``; ValueError with the accepted form when it is not a duration."""
    cleaned = text.strip()
    pos, total = 0, 0.0
    for match in _PART.finditer(cleaned):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not cleaned or pos != len(cleaned):
        raise ValueError(
            f'{text!r} is not a duration: write a number and a unit, e.g. "500ms", "5s", '
            '"2m", "1h", "21d"'
        )
    return total


def _validate(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(
            f'a duration must be a string such as "30s", not {type(value).__name__} {value!r}'
        )
    return parse_duration(value)


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


Duration = Annotated[float, BeforeValidator(_validate)]
"""A duration in seconds, parsed from its settings string."""
