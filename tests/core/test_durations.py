from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from monitor.core.durations import Duration, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("5s", 5), ("2m", 120), ("1h", 3600), ("21d", 21 * 86400), ("1m30s", 90)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "5", "s", "5 s", "-5s", "5sec", "1.s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.25, "250ms"), (90, "90s"), (120, "2m"), (7200, "2h"), (86400, "1d")]
)
def test_format_duration_picks_the_largest_whole_unit(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


class _Model(BaseModel):
    every: Duration


def test_a_duration_field_takes_only_strings() -> None:
    assert _Model.model_validate({"every": "2m"}).every == 120
    for bad in (30, 1.5, True):
        with pytest.raises(ValidationError, match="a duration must be a string"):
            _Model.model_validate({"every": bad})
