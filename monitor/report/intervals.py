"""Half-open time spans ``(start, end)`` in unix seconds: the arithmetic the report counts with.

Spans with ``end <= start`` are empty and dropped; touching spans merge in ``union``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["Span", "clip", "intersect", "measure", "subtract", "union"]

Span = tuple[float, float]


def union(spans: Iterable[Span]) -> list[Span]:
    """The spans merged, sorted, without overlaps."""
    out: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def clip(spans: Iterable[Span], start: float, end: float) -> list[Span]:
    """The parts of ``spans`` inside ``[start, end)``."""
    return [(max(a, start), min(b, end)) for a, b in spans if min(b, end) > max(a, start)]


def intersect(spans: Iterable[Span], within: Sequence[Span]) -> list[Span]:
    """The parts of ``spans`` inside the (merged, sorted) ``within``."""
    out: list[Span] = []
    for a, b in spans:
        for c, d in within:
            if min(b, d) > max(a, c):
                out.append((max(a, c), min(b, d)))
    return out


def subtract(spans: Iterable[Span], minus: Sequence[Span]) -> list[Span]:
    """``spans`` less the (merged, sorted) ``minus``."""
    out: list[Span] = []
    for a, b in spans:
        pieces = [(a, b)]
        for c, d in minus:
            nxt: list[Span] = []
            for x, y in pieces:
                if d <= x or c >= y:
                    nxt.append((x, y))
                    continue
                if c > x:
                    nxt.append((x, c))
                if d < y:
                    nxt.append((d, y))
            pieces = nxt
        out.extend(pieces)
    return out


def measure(spans: Iterable[Span]) -> float:
    """Seconds covered by ``spans``, overlaps counted once."""
    return sum(b - a for a, b in union(spans))
