"""The report's figures: availability, MTTR and how targets add up."""

from __future__ import annotations

from monitor.report.model import ZERO, Figures, Row, Section, total_of


def fig(
    period: float,
    maint: float = 0,
    down: float = 0,
    n: int = 0,
    longest: float = 0,
    watched: float | None = None,
) -> Figures:
    return Figures(period, maint, down, 0.0, n, longest, period if watched is None else watched)


def test_availability_leaves_maintenance_out() -> None:
    f = fig(1000, maint=200, down=8, n=2, longest=5)
    assert f.scheduled_seconds == 800
    assert f.availability == 99.0
    assert f.mttr_seconds == 4
    assert fig(100, maint=100).availability is None  # all maintenance: nothing to measure
    assert fig(100).mttr_seconds is None
    assert fig(3, down=1).availability == 66.667  # to 0.001 %


def test_time_not_watched_counts_neither_way() -> None:
    f = fig(1000, maint=100, down=50, watched=600)  # 400 s nobody watched
    assert (f.unwatched_seconds, f.scheduled_seconds, f.up_seconds) == (400, 500, 450)
    assert f.availability == 90.0 and f.coverage == 60.0 and f.low_coverage
    assert fig(1000, watched=0).availability is None  # no data is not uptime
    assert not fig(1000, watched=900).low_coverage and fig(1000, watched=899).low_coverage
    assert fig(0).coverage is None


def test_targets_add_up_as_target_time() -> None:
    total = total_of([fig(100, down=50, n=1, longest=50), fig(100, down=50, n=2, longest=30)])
    assert total.availability == 50.0
    assert (total.period_seconds, total.outages, total.longest_seconds) == (200, 3, 50)
    assert total_of([]) == ZERO


def test_sections_group_in_display_order() -> None:
    def row(name: str, group: str, carrier: str | None = None) -> Row:
        labels = {"carrier": carrier} if carrier else {}
        return Row(name, group, "icmp", labels, fig(10), (), (), True)

    rows = (
        row("x", "other"),
        row("a", "website"),
        row("b", "zoo"),
        row("c", "carrier", "vnpt"),
        row("d", "carrier", "viettel"),
    )
    section = Section("range", "", 0, 10, 10, rows)
    assert [n for n, _, _ in section.by("group")] == ["carrier", "website", "zoo", "other"]
    assert [n for n, _, _ in section.by("carrier")] == ["viettel", "vnpt"]
    assert section.total.period_seconds == 50
