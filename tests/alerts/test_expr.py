"""Rule conditions: what parses, what each part computes, and errors that say where."""

from __future__ import annotations

import math

import pytest

from alerts.expr import ExprError, Selector, parse


def test_a_sample_against_a_number() -> None:
    c = parse("probe_success == 0")
    assert c.selector == Selector("probe_success") and not c.is_global and not c.uses_time
    assert c.holds(c.value(0.0, 1e9)) and not c.holds(c.value(1.0, 1e9))
    assert not c.holds(math.nan)  # a missing value never holds


def test_durations_time_and_label_matchers() -> None:
    c = parse('probe_icmp_rtt_seconds{stat="avg"} > 100ms')
    assert c.threshold == pytest.approx(0.1)
    assert c.selector is not None
    assert c.selector.matches((("stat", "avg"),)) and not c.selector.matches((("stat", "max"),))
    c = parse("probe_ssl_earliest_cert_expiry - time() < 21d")
    assert c.uses_time and c.threshold == 21 * 86400
    now = 1_760_000_000.0
    assert c.holds(c.value(now + 20 * 86400, now)) and not c.holds(c.value(now + 22 * 86400, now))
    c = parse('ifOperStatus{ifName!="lo", ifAdminStatus="1"} != 1')
    assert c.selector is not None and c.selector.label_names == {"ifName", "ifAdminStatus"}
    assert c.selector.matches((("ifName", "eth0"), ("ifAdminStatus", "1")))
    assert not c.selector.matches((("ifName", "lo"), ("ifAdminStatus", "1")))
    assert parse("x > -1").threshold == -1 and parse("x > 1e-3").threshold == 0.001
    assert parse("1h30m + x >= 2").offset == 5400


def test_rate_and_global_conditions() -> None:
    c = parse("rate(ifInErrors[5m]) > 1")
    assert c.rate_window == 300 and c.selector == Selector("ifInErrors")
    w = parse("time() > 0")
    assert w.is_global and w.holds(w.value(0.0, 1.0)) and not w.holds(w.value(0.0, -1.0))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("probe_success", "a comparison"),
        ("probe_success == ", "column"),
        ("a + b > 1", "only one sample"),
        ("max(a) > 1", "unknown function max()"),
        ("a > 1 junk", "the end of the condition"),
        ("rate(a[0s]) > 1", "must be positive"),
        ("a{b=1} > 1", "column"),
    ],
)
def test_errors_say_where_and_what(text: str, says: str) -> None:
    with pytest.raises(ExprError, match=says):
        parse(text)
