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
from typing import Any
from zoneinfo import ZoneInfo

from monitor.core.i18n import Lang, duration_text
from probes.base import ProbeResult

__all__ = [
    "BASE_FIELDS",
    "TemplateError",
    "facts_of",
    "fields",
    "format_since",
    "format_value",
    "render",
]

# Fields every rule fills in. Label names of the matching targets and of the series add to
# these (``{carrier}``, ``{ifName}``); a label field is filled with the value's display name in
# the text's language ([names], the group and severity words; ``{target}`` stays the slug).
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
        "title",  # the target's display name (its `title`, else its name), in each language
        "evidence",  # what the probe saw, in words (monitor.core.i18n.evidence_text)
        "failure",  # what a failed target is, in words: "mất kết nối", "sự cố chứng thư số"
    }
)
# Samples whose value is a time span in seconds, shown with a unit in the text's language.
_DURATIONS = frozenset({"sysUpTime"})
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


def format_value(
    value: float, sample: str | None, *, duration: bool, rate: bool, lang: Lang = "vi"
) -> str:
    """A value as a person reads it, in ``lang``: durations with their unit for time()
    arithmetic and uptimes ("3 phút", "3 min"), % for ratios, ms for short seconds, /s for
    rates; plain otherwise."""
    if math.isnan(value):
        return "?"
    if duration or (sample is not None and sample in _DURATIONS):
        return duration_text(value, lang, largest=2)
    if rate:
        return f"{value:.3g}/s"
    if sample is not None and sample.endswith("_ratio"):
        return f"{value * 100:.3g}%"
    if sample is not None and sample.endswith("_seconds"):
        if abs(value) < 1:
            return f"{value * 1000:.3g} ms"
        return f"{value:.3g} s" if abs(value) < 60 else duration_text(value, lang, largest=2)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def facts_of(result: ProbeResult) -> dict[str, Any]:
    """What a message may say of a result, as data: its reason code, the first value of each
    sample, the forbidden words found, the required ones missing and the page's words around
    the first forbidden one (``monitor.core.i18n.evidence_text`` words them)."""
    samples: dict[str, float] = {}
    for sample in result.samples:
        samples.setdefault(sample.name, sample.value)
    facts: dict[str, Any] = {"reason": result.reason, "samples": samples}
    found = [text for key, text in result.facts if key == "forbidden"]
    missing = [text for key, text in result.facts if key == "required"]
    if found:
        facts["found"] = found
    if missing:
        facts["missing"] = missing
    for key, text in result.facts:
        if key == "excerpt":
            facts["excerpt"] = text
            break
    return facts


def format_since(ts: float, zone: ZoneInfo) -> str:
    """A time as the NOC reads it: local (Asia/Ho_Chi_Minh), with its offset."""
    return datetime.fromtimestamp(ts, zone).strftime("%H:%M:%S %d/%m/%Y (UTC%z)")
