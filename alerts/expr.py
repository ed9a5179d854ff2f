"""Rule conditions: a small parser, no ``eval``.

Grammar (one sample per condition; nothing more)::

    condition := sum OP number
    sum       := term (("+" | "-") term)*
    term      := selector | "time()" | number | "rate(" selector "[" duration "])"
    selector  := NAME [ "{" NAME ("=" | "!=") STRING ("," ...)* "}" ]
    OP        := "==" | "!=" | "<" | "<=" | ">" | ">="
    number    := 12 | 0.2 | 1e-3 | a duration: 500ms 30s 5m 2h 21d 1w 1h30m (seconds)

Examples: ``probe_success == 0``, ``probe_icmp_rtt_seconds{stat="avg"} > 100ms``,
``probe_ssl_earliest_cert_expiry - time() < 21d``, ``rate(ifInErrors[5m]) > 1``.

A condition with a selector is evaluated per series (one alert per interface of a router); one
without (``time() > 0``) is global: it has no target (the Watchdog).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from monitor.core.durations import parse_duration

__all__ = ["Condition", "ExprError", "Selector", "parse"]

Labels = tuple[tuple[str, str], ...]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}

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
    """A sample name and label matchers: ``ifOperStatus{ifName!="lo"}``."""

    name: str
    equal: Labels = ()
    not_equal: Labels = ()

    def matches(self, labels: Labels) -> bool:
        have = dict(labels)
        return all(have.get(k) == v for k, v in self.equal) and all(
            have.get(k) != v for k, v in self.not_equal
        )

    @property
    def label_names(self) -> set[str]:
        return {k for k, _ in self.equal} | {k for k, _ in self.not_equal}


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition: ``sign * sample + offset [+ time()] OP threshold``."""

    text: str
    selector: Selector | None
    sign: float  # of the sample term (+1 or -1)
    time_sign: float  # how many times time() is added (-1, 0, +1, ...)
    offset: float  # the sum of the constant terms
    op: str
    threshold: float
    rate_window: float | None = None  # rate(name[window]): per-second increase

    @property
    def is_global(self) -> bool:
        return self.selector is None

    @property
    def uses_time(self) -> bool:
        return self.time_sign != 0

    def value(self, sample: float, now: float) -> float:
        """The left-hand side for a sample value (ignored when global) at unix time ``now``."""
        base = self.sign * sample if self.selector is not None else 0.0
        return base + self.time_sign * now + self.offset

    def holds(self, value: float) -> bool:
        if math.isnan(value):
            return False
        return _OPS[self.op](value, self.threshold)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

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

    def parse(self) -> Condition:
        selector: Selector | None = None
        rate_window: float | None = None
        sign_of_sample = 1.0
        time_sign = 0.0
        offset = 0.0
        sign = 1.0
        first = True
        while True:
            if not first:
                if self.take("punct", "+"):
                    sign = 1.0
                elif self.take("punct", "-"):
                    sign = -1.0
                else:
                    break
            elif self.take("punct", "-"):
                sign = -1.0
            first = False
            tok = self.tok
            if tok.kind in ("number", "duration"):
                offset += sign * self.number()
            elif tok.kind == "name" and tok.text == "time" and self.toks[self.i + 1].text == "(":
                self.i += 1
                self.need("punct", "(", "(")
                self.need("punct", ")", ") after time(")
                time_sign += sign
            elif tok.kind == "name" and tok.text == "rate" and self.toks[self.i + 1].text == "(":
                if selector is not None:
                    raise ExprError(f"at column {tok.col}: only one sample per condition")
                self.i += 1
                self.need("punct", "(", "(")
                selector = self.selector()
                self.need("punct", "[", "[ and a window, as in rate(ifInErrors[5m])")
                window = self.tok
                rate_window = self.number()
                if rate_window <= 0:
                    raise ExprError(f"at column {window.col}: the rate window must be positive")
                self.need("punct", "]", "]")
                self.need("punct", ")", ") closing rate(")
                sign_of_sample = sign
            elif tok.kind == "name":
                if selector is not None:
                    raise ExprError(
                        f"at column {tok.col}: only one sample per condition "
                        f"(found {tok.text} after {selector.name})"
                    )
                if self.toks[self.i + 1].text == "(":
                    raise ExprError(
                        f"at column {tok.col}: unknown function {tok.text}(); "
                        "only time() and rate() exist"
                    )
                selector = self.selector()
                sign_of_sample = sign
            else:
                raise self.fail("a sample name, time() or a number")
        op = self.tok
        if op.kind != "op" or op.text not in _OPS:
            raise self.fail("a comparison (== != < <= > >=)")
        self.i += 1
        negative = self.take("punct", "-") is not None
        threshold = self.number() * (-1.0 if negative else 1.0)
        if self.tok.kind != "end":
            raise self.fail("the end of the condition")
        return Condition(
            text=self.text,
            selector=selector,
            sign=sign_of_sample,
            time_sign=time_sign,
            offset=offset,
            op=op.text,
            threshold=threshold,
            rate_window=rate_window,
        )


def parse(text: str) -> Condition:
    """Parse a condition; ExprError (a ValueError) names the column and what was expected."""
    if not text.strip():
        raise ExprError("the condition is empty")
    return _Parser(text).parse()
