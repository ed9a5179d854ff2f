"""Rule conditions: a small parser, no ``eval``.

Grammar (one sample name per condition, read per series)::

    condition  := conjunction ("or" conjunction)*
    conjunction:= atom ("and" atom)*
    atom       := "(" condition ")" | sum OP sum
    sum        := term (("+" | "-") term)*
    term       := number | "time()" | selector | "prev(" selector ")"
                | "rate(" selector "[" duration "])"
    selector   := NAME [ "{" NAME ("=" | "!=") STRING ("," ...)* "}" ]
    OP         := "==" | "!=" | "<" | "<=" | ">" | ">="
    number     := 12 | 0.2 | 1e-3 | a duration: 500ms 30s 5m 2h 21d 1w 1h30m (seconds)

Examples: ``probe_success == 0``, ``probe_icmp_rtt_seconds{stat="avg"} > 100ms``,
``probe_ssl_earliest_cert_expiry - time() < 21d``, ``rate(ifInErrors[5m]) > 1``,
``ifOperStatus != 1 and prev(ifOperStatus) == 1`` (a port that was up at the previous poll and
is not now), ``sysUpTime < prev(sysUpTime)`` (the agent's clock went back: it restarted).

Per series: every selector of a condition names the same sample, and the condition is read for
each series of that sample (one alert per interface of a router). ``prev(x)`` is the value the
same series had at the target's previous observation (the engine keeps it, across restarts of
netmon); ``rate(x[w])`` its per-second increase over ``w``. A selector whose label matchers do
not select the series makes its comparison false (``ifOperStatus{circuit!=""} != 1`` is false
for a port that is no named circuit); a missing label is the empty string, as in Prometheus.

Three-valued: a comparison that needs a ``prev()`` or a ``rate()`` the series does not have yet
is *unknown* (None), and ``and``/``or`` follow Kleene's logic (false and unknown = false, true
or unknown = true). A rule fires only on true; a trap (``traps.fire``) fires a series unless
the condition is known false on the observation as the trap left it.

A condition without a selector (``time() > 0``) is global: it has no target (the Watchdog).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from monitor.core.durations import parse_duration

__all__ = ["Comparison", "Condition", "ExprError", "Logic", "Point", "Selector", "Term", "parse"]

Labels = tuple[tuple[str, str], ...]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_FUNCTIONS = ("time", "rate", "prev")

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<duration>(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+(?![A-Za-z0-9_]))
  | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?![A-Za-z0-9_]))
  | (?P<name>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|<=|>=|<|>|=)
  | (?P<punct>[-+(){}\[\],])
    """,
    re.VERBOSE,
)


class ExprError(ValueError):
    """A condition that does not parse; the message says where and what was expected."""


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    col: int  # 1-based


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExprError(f"at column {pos + 1}: unexpected character {text[pos]!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            out.append(_Tok(kind, match.group(), pos + 1))
        pos = match.end()
    out.append(_Tok("end", "", len(text) + 1))
    return out


@dataclass(frozen=True, slots=True)
class Selector:
    """A sample name and label matchers: ``ifOperStatus{ifName!="lo"}``. A label the series
    does not carry is the empty string (Prometheus' rule): ``{circuit!=""}`` needs it set."""

    name: str
    equal: Labels = ()
    not_equal: Labels = ()

    def matches(self, labels: Labels) -> bool:
        if not self.equal and not self.not_equal:
            return True  # a bare name: most selectors, asked per series per result
        have = dict(labels)
        return all(have.get(k, "") == v for k, v in self.equal) and all(
            have.get(k, "") != v for k, v in self.not_equal
        )

    @property
    def label_names(self) -> set[str]:
        return {k for k, _ in self.equal} | {k for k, _ in self.not_equal}


@dataclass(frozen=True, slots=True)
class Point:
    """One series as a condition reads it: its labels, its value now, its value at the
    target's previous observation (None: none known) and its rates by window (absent: too few
    points for one)."""

    labels: Labels = ()
    value: float = math.nan
    previous: float | None = None
    rates: Mapping[float, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Term:
    """``sign ×`` a number, ``time()``, the sample, ``prev(sample)`` or ``rate(sample[w])``."""

    sign: float
    kind: Literal["number", "time", "sample", "prev", "rate"]
    number: float = 0.0
    selector: Selector | None = None
    window: float | None = None

    def value(self, point: Point | None, now: float) -> float | Literal[False] | None:
        """The term's value; None when unknown (no previous value, no rate yet); False when
        the series is not one its selector selects."""
        if self.kind == "number":
            return self.sign * self.number
        if self.kind == "time":
            return self.sign * now
        assert self.selector is not None
        if point is None or not self.selector.matches(point.labels):
            return False
        if self.kind == "sample":
            raw: float | None = point.value
        elif self.kind == "prev":
            raw = point.previous
        else:
            assert self.window is not None
            raw = point.rates.get(self.window)
        return None if raw is None else self.sign * raw


def _sum(terms: tuple[Term, ...], point: Point | None, now: float) -> float | bool | None:
    total = 0.0
    unknown = False
    for term in terms:
        value = term.value(point, now)
        if value is False:
            return False
        if value is None:
            unknown = True
            continue
        total += value
    return None if unknown else total


@dataclass(frozen=True, slots=True)
class Comparison:
    left: tuple[Term, ...]
    op: str
    right: tuple[Term, ...]

    def test(self, point: Point | None, now: float) -> bool | None:
        left = _sum(self.left, point, now)
        right = _sum(self.right, point, now)
        if left is False or right is False:
            return False  # not a series this comparison selects
        if left is None or right is None:
            return None
        assert not isinstance(left, bool) and not isinstance(right, bool)
        if math.isnan(left) or math.isnan(right):
            return False
        return _OPS[self.op](left, right)

    def shown(self, point: Point | None, now: float) -> float:
        """The left-hand side: what ``{value}`` shows (NaN when unknown)."""
        left = _sum(self.left, point, now)
        return math.nan if left is None or isinstance(left, bool) else left

    def terms(self) -> Iterator[Term]:
        yield from self.left
        yield from self.right


@dataclass(frozen=True, slots=True)
class Logic:
    op: Literal["and", "or"]
    parts: tuple[Comparison | Logic, ...]

    def test(self, point: Point | None, now: float) -> bool | None:
        unknown = False
        for part in self.parts:
            value = part.test(point, now)
            if value is None:
                unknown = True
            elif value == (self.op == "or"):
                return value  # or: one true decides; and: one false decides
        return None if unknown else self.op == "and"

    def comparisons(self) -> Iterator[Comparison]:
        for part in self.parts:
            if isinstance(part, Comparison):
                yield part
            else:
                yield from part.comparisons()


Node = Comparison | Logic


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition: a tree of comparisons joined by ``and``/``or``."""

    text: str
    root: Node
    # Derived once (the engine asks per series): the comparisons, their terms, the selectors.
    _comparisons_: tuple[Comparison, ...] = field(init=False, repr=False, compare=False)
    _terms_: tuple[Term, ...] = field(init=False, repr=False, compare=False)
    _selectors_: tuple[Selector, ...] = field(init=False, repr=False, compare=False)
    _uses_prev_: bool = field(init=False, repr=False, compare=False)
    _rate_windows_: frozenset[float] = field(init=False, repr=False, compare=False)
    _quick_: Quick | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        root = self.root
        comparisons = (root,) if isinstance(root, Comparison) else tuple(root.comparisons())
        terms = tuple(t for c in comparisons for t in c.terms())
        object.__setattr__(self, "_comparisons_", comparisons)
        object.__setattr__(self, "_terms_", terms)
        selectors = tuple(dict.fromkeys(t.selector for t in terms if t.selector is not None))
        object.__setattr__(self, "_selectors_", selectors)
        object.__setattr__(self, "_uses_prev_", any(t.kind == "prev" for t in terms))
        windows = frozenset(t.window for t in terms if t.window is not None)
        object.__setattr__(self, "_rate_windows_", windows)
        object.__setattr__(self, "_quick_", _quick(root, selectors))

    def _comparisons(self) -> tuple[Comparison, ...]:
        return self._comparisons_

    def _terms(self) -> tuple[Term, ...]:
        return self._terms_

    @property
    def selector(self) -> Selector | None:
        """The first selector: the sample the condition is read over (None: global)."""
        for term in self._terms():
            if term.selector is not None:
                return term.selector
        return None

    @property
    def selectors(self) -> tuple[Selector, ...]:
        """Every distinct selector, in order."""
        return self._selectors_

    @property
    def is_global(self) -> bool:
        return self.selector is None

    @property
    def uses_time(self) -> bool:
        return any(t.kind == "time" for t in self._terms())

    @property
    def uses_prev(self) -> bool:
        return self._uses_prev_

    @property
    def rate_windows(self) -> frozenset[float]:
        return self._rate_windows_

    @property
    def rate_window(self) -> float | None:
        """The window of the first rate() (what ``{value}`` is a rate over), or None."""
        first = self._comparisons()[0]
        for term in first.left:
            if term.window is not None:
                return term.window
        return None

    @property
    def quick(self) -> Quick | None:
        """The condition in its most common shape, ``sample <op> number`` (the sample on the
        left, numbers only on the right, no prev(), rate() or time()), ready to test a bare
        value: None for any other shape."""
        return self._quick_

    def matches(self, labels: Labels) -> bool:
        """Whether any selector of the condition selects a series with these labels."""
        return any(s.matches(labels) for s in self._selectors_)

    def test(self, point: Point | None, now: float) -> bool | None:
        """True, False, or None (unknown: a prev() or rate() the series has not got yet)."""
        return self.root.test(point, now)

    def shown(self, point: Point | None, now: float) -> float:
        """The value an alert shows: the left-hand side of the first comparison that has one
        for this series (NaN when none has)."""
        for comparison in self._comparisons():
            value = comparison.shown(point, now)
            if not math.isnan(value):
                return value
        return math.nan


class Quick(NamedTuple):
    """``sign × sample <op> threshold`` over the series whose labels include ``pairs``; what
    ``Condition.test`` is for such a condition and a series its selector selects, made once
    per rule (the engine asks it of every series of every result)."""

    name: str  # the sample
    pairs: Labels  # label pairs the series must carry (the selector's, all ``=``)
    sign: float
    op: Callable[[float, float], bool]
    threshold: float

    def selects(self, labels: Labels) -> bool:
        return all(pair in labels for pair in self.pairs)

    def holds(self, value: float) -> bool:
        # NaN compares false, as Comparison.test says (!= would say true).
        return value == value and self.op(self.sign * value, self.threshold)


def _quick(root: Node, selectors: tuple[Selector, ...]) -> Quick | None:
    if not isinstance(root, Comparison) or len(selectors) != 1 or len(root.left) != 1:
        return None
    (term,) = root.left
    selector = selectors[0]
    if term.kind != "sample" or any(t.kind != "number" for t in root.right):
        return None
    if selector.not_equal or any(value == "" for _, value in selector.equal):
        return None  # "" means absent too: left to Selector.matches
    threshold = _sum(root.right, None, 0.0)
    assert isinstance(threshold, float)
    return Quick(selector.name, selector.equal, term.sign, _OPS[root.op], threshold)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.name: str | None = None  # the one sample name

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def _found(self) -> str:
        return "the end" if self.tok.kind == "end" else f'"{self.tok.text}"'

    def fail(self, expected: str) -> ExprError:
        return ExprError(f"at column {self.tok.col}: expected {expected}, found {self._found()}")

    def take(self, kind: str, text: str | None = None) -> _Tok | None:
        tok = self.tok
        if tok.kind == kind and (text is None or tok.text == text):
            self.i += 1
            return tok
        return None

    def need(self, kind: str, text: str, expected: str) -> _Tok:
        tok = self.take(kind, text)
        if tok is None:
            raise self.fail(expected)
        return tok

    def number(self) -> float:
        tok = self.tok
        if tok.kind == "number":
            self.i += 1
            return float(tok.text)
        if tok.kind == "duration":
            self.i += 1
            return parse_duration(tok.text)
        raise self.fail("a number or a duration such as 21d")

    def selector(self) -> Selector:
        name = self.take("name")
        if name is None:
            raise self.fail("a sample name such as probe_success")
        if self.name is None:
            self.name = name.text
        elif name.text != self.name:
            raise ExprError(
                f"at column {name.col}: only one sample per condition "
                f"(found {name.text} after {self.name})"
            )
        equal: list[tuple[str, str]] = []
        not_equal: list[tuple[str, str]] = []
        if self.take("punct", "{"):
            while not self.take("punct", "}"):
                label = self.take("name")
                if label is None:
                    raise self.fail("a label name or }")
                op = self.tok
                if op.kind != "op" or op.text not in ("=", "!="):
                    raise self.fail("= or != after the label name")
                self.i += 1
                string = self.take("string")
                if string is None:
                    raise self.fail('a quoted label value such as "avg"')
                value = re.sub(r"\\(.)", r"\1", string.text[1:-1])
                (equal if op.text == "=" else not_equal).append((label.text, value))
                if not self.take("punct", ","):
                    self.need("punct", "}", ", or }")
                    break
        return Selector(name.text, tuple(equal), tuple(not_equal))

    def _is_call(self, name: str) -> bool:
        tok = self.tok
        return tok.kind == "name" and tok.text == name and self.toks[self.i + 1].text == "("

    def term(self, sign: float) -> Term:
        tok = self.tok
        if tok.kind in ("number", "duration"):
            return Term(sign, "number", number=self.number())
        if self._is_call("time"):
            self.i += 2
            self.need("punct", ")", ") after time(")
            return Term(sign, "time")
        if self._is_call("prev"):
            self.i += 2
            selector = self.selector()
            self.need("punct", ")", ") closing prev(, as in prev(ifOperStatus)")
            return Term(sign, "prev", selector=selector)
        if self._is_call("rate"):
            self.i += 2
            selector = self.selector()
            self.need("punct", "[", "[ and a window, as in rate(ifInErrors[5m])")
            window = self.tok
            length = self.number()
            if length <= 0:
                raise ExprError(f"at column {window.col}: the rate window must be positive")
            self.need("punct", "]", "]")
            self.need("punct", ")", ") closing rate(")
            return Term(sign, "rate", selector=selector, window=length)
        if tok.kind == "name" and tok.text in ("and", "or"):
            raise self.fail("a sample name, a function or a number")
        if tok.kind == "name":
            if self.toks[self.i + 1].text == "(":
                known = ", ".join(f"{f}()" for f in _FUNCTIONS)
                raise ExprError(
                    f"at column {tok.col}: unknown function {tok.text}(); only {known} exist"
                )
            return Term(sign, "sample", selector=self.selector())
        raise self.fail("a sample name, time(), prev(), rate() or a number")

    def sum(self) -> tuple[Term, ...]:
        terms: list[Term] = []
        sign = -1.0 if self.take("punct", "-") else 1.0
        terms.append(self.term(sign))
        while True:
            if self.take("punct", "+"):
                sign = 1.0
            elif self.take("punct", "-"):
                sign = -1.0
            else:
                return tuple(terms)
            terms.append(self.term(sign))

    def atom(self) -> Node:
        if self.tok.kind == "punct" and self.tok.text == "(":
            # "(" opens a group of comparisons; a sum never starts with one.
            self.i += 1
            node = self.disjunction()
            self.need("punct", ")", ") closing (")
            return node
        left = self.sum()
        op = self.tok
        if op.kind != "op" or op.text not in _OPS:
            raise self.fail("a comparison (== != < <= > >=)")
        self.i += 1
        right = self.sum()
        return Comparison(left, op.text, right)

    def conjunction(self) -> Node:
        parts = [self.atom()]
        while self.take("name", "and"):
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else Logic("and", tuple(parts))

    def disjunction(self) -> Node:
        parts = [self.conjunction()]
        while self.take("name", "or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Logic("or", tuple(parts))

    def parse(self) -> Condition:
        root = self.disjunction()
        if self.tok.kind != "end":
            raise self.fail("the end of the condition (or and, or)")
        condition = Condition(self.text, root)
        if condition.is_global and condition.uses_prev:  # pragma: no cover - prev needs a name
            raise ExprError("prev() needs a sample")
        return condition


def parse(text: str) -> Condition:
    """Parse a condition; ExprError (a ValueError) names the column and what was expected."""
    if not text.strip():
        raise ExprError("the condition is empty")
    return _Parser(text).parse()
