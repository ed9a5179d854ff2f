"""The span arithmetic the report counts with: half-open spans in seconds."""

from __future__ import annotations

from monitor.report.intervals import clip, measure, subtract, union


def test_union_merges_overlapping_and_touching_spans_and_drops_empty_ones() -> None:
    assert union([(5, 7), (0, 2), (1, 3), (3, 4), (9, 9), (8, 6)]) == [(0, 4), (5, 7)]
    assert union([(0, 10), (2, 3)]) == [(0, 10)]  # one inside another
    assert union([]) == []


def test_clip_keeps_the_parts_inside_the_period() -> None:
    assert clip([(0, 5), (8, 12), (20, 30)], 3, 10) == [(3, 5), (8, 10)]
    assert clip([(0, 3), (10, 12)], 3, 10) == []  # touching the edges is outside


def test_subtract_cuts_holes_and_edges() -> None:
    assert subtract([(0, 10)], [(2, 3), (5, 6)]) == [(0, 2), (3, 5), (6, 10)]
    assert subtract([(0, 10)], [(-5, 2), (8, 15)]) == [(2, 8)]
    assert subtract([(0, 10)], [(0, 10)]) == []
    assert subtract([(0, 2), (4, 6)], [(1, 5)]) == [(0, 1), (5, 6)]
    assert subtract([(0, 10)], []) == [(0, 10)]


def test_measure_counts_overlaps_once() -> None:
    assert measure([(0, 10), (5, 15), (20, 21)]) == 16
    assert measure([]) == 0
