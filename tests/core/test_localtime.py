"""Times typed as people type them: local dates and times in Asia/Ho_Chi_Minh, or RFC 3339."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from monitor.core.localtime import parse_local_time

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def test_a_local_date_is_its_local_midnight_and_ends_at_the_next() -> None:
    assert parse_local_time("2026-12-04", HCM) == utc(2026, 12, 3, 17)
    assert parse_local_time("2026-12-04", HCM, end_of_day=True) == utc(2026, 12, 4, 17)


def test_a_local_date_and_time_is_in_the_zone() -> None:
    assert parse_local_time("2026-12-04 08:30", HCM) == utc(2026, 12, 4, 1, 30)
    assert parse_local_time("2026-12-04T08:30:15", HCM, end_of_day=True) == utc(
        2026, 12, 4, 1, 30, 15
    )  # a time is a time, end of day or not


def test_an_offset_or_z_is_taken_as_given() -> None:
    assert parse_local_time("2026-12-04T08:00:00+07:00", HCM) == utc(2026, 12, 4, 1)
    assert parse_local_time("2026-12-04T01:00:00Z", HCM) == utc(2026, 12, 4, 1)


@pytest.mark.parametrize("text", ["04/12/2026", "yesterday", "2026-13-01", ""])
def test_anything_else_names_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match="2026-12-04 08:00"):
        parse_local_time(text, HCM)
