"""Summary and description templates: ``"{target} mất kết nối từ {since}"``.

Only plain ``{name}`` fields: no attribute or index access, no format spec, so a template can
neither reach into Python objects nor fail at render time. The fields a template uses are
checked when the settings load, against the fields the rule can fill in; ``{{`` and ``}}`` are
literal braces.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

__all__ = [
    "BASE_FIELDS",
    "TemplateError",
    "fields",
    "format_since",
    "format_value",
    "render",
]

# Fields every rule fills in. Label names of the matching targets and of the series add to
# these (``{carrier}``, ``{ifName}``).
BASE_FIELDS = frozenset(
    {
        "alertname",
        "target",
        "group",
        "kind",
        "value",
        "reason",
        "detail",
        "since",
        "phase",
        "phase_title",
        "severity",
    }
)
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class TemplateError(ValueError):
    pass


def fields(template: str) -> set[str]:
    """The field names a template uses; TemplateError when it is not a plain template."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(f"{exc} (write {{{{ and }}}} for literal braces)") from None
    names: set[str] = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not _FIELD.match(name):
            raise TemplateError(
                f"{{{name}}} is not a plain field name: use {{target}}, {{value}}, a label name…"
            )
        if spec or conversion:
            raise TemplateError(f"{{{name}}}: format specs and conversions are not supported")
        names.add(name)
    return names


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill a checked template; a field without a value renders empty rather than failing."""
    out: list[str] = []
    for literal, name, _, _ in string.Formatter().parse(template):
        out.append(literal)
        if name is not None:
            out.append(values.get(name, ""))
    return "".join(out)


def _duration_text(seconds: float) -> str:
    negative = seconds < 0
    seconds = abs(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            count = int(seconds // size)
            parts.append(f"{count}{unit}")
            seconds -= count * size
        if len(parts) == 2:
            break
    if not parts:
        parts.append(f"{seconds:.0f}s")
    return ("-" if negative else "") + " ".join(parts)


def format_value(value: float, sample: str | None, *, duration: bool, rate: bool) -> str:
    """A value as a person reads it: durations for time() arithmetic, % for ratios, ms for
    seconds, /s for rates; plain otherwise."""
    if math.isnan(value):
        return "?"
    if duration:
        return _duration_text(value)
    if rate:
        return f"{value:.3g}/s"
    if sample is not None and sample.endswith("_ratio"):
        return f"{value * 100:.3g}%"
    if sample is not None and sample.endswith("_seconds"):
        return f"{value * 1000:.3g} ms" if abs(value) < 1 else f"{value:.3g} s"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def format_since(ts: float, zone: ZoneInfo) -> str:
    """A time as the NOC reads it: local (Asia/Ho_Chi_Minh), with its offset."""
    return datetime.fromtimestamp(ts, zone).strftime("%H:%M:%S %d/%m/%Y (UTC%z)")
