"""Rule conditions: what parses, what each part computes, and errors that say where."""

from __future__ import annotations

import math
import re

import pytest

from alerts.expr import ExprError, Point, Selector, parse

NOW = 1_760_000_000.0


def _test(text: str, value: float, previous: float | None = None, **labels: str) -> bool | None:
    return parse(text).test(Point(tuple(labels.items()), value, previous), NOW)


def test_a_sample_against_a_number() -> None:
    c = parse("probe_success == 0")
    assert c.selector == Selector("probe_success") and not c.is_global and not c.uses_time
    assert c.test(Point((), 0.0), NOW) is True and c.test(Point((), 1.0), NOW) is False
    assert c.test(Point((), math.nan), NOW) is False  # a missing value never holds


def test_durations_time_and_label_matchers() -> None:
    assert _test('probe_icmp_rtt_seconds{stat="avg"} > 100ms', 0.11, stat="avg") is True
    assert _test('probe_icmp_rtt_seconds{stat="avg"} > 100ms', 0.09, stat="avg") is False
    assert _test('probe_icmp_rtt_seconds{stat="avg"} > 100ms', 0.2, stat="max") is False
    c = parse("probe_ssl_earliest_cert_expiry - time() < 21d")
    assert c.uses_time
    assert c.test(Point((), NOW + 20 * 86400), NOW) is True
    assert c.test(Point((), NOW + 22 * 86400), NOW) is False
    assert c.shown(Point((), NOW + 20 * 86400), NOW) == 20 * 86400
    c = parse('ifOperStatus{ifName!="lo", ifAdminStatus="1"} != 1')
    assert c.selector is not None and c.selector.label_names == {"ifName", "ifAdminStatus"}
    assert c.selector.matches((("ifName", "eth0"), ("ifAdminStatus", "1")))
    assert not c.selector.matches((("ifName", "lo"), ("ifAdminStatus", "1")))
    assert _test("x > -1", -0.5) is True and _test("x > 1e-3", 0.0011) is True
    assert _test("1h30m + x >= 5401", 1.0) is True and _test("1h30m + x >= 5401", 0.5) is False


def test_a_missing_label_is_the_empty_string() -> None:
    """As in Prometheus: {circuit!=""} selects only series that carry the label."""
    named = parse('ifOperStatus{circuit!=""} != 1')
    assert named.test(Point((("circuit", "viettel-uplink"),), 2.0), NOW) is True
    assert named.test(Point((("circuit", ""),), 2.0), NOW) is False
    assert named.test(Point((), 2.0), NOW) is False
    assert parse('x{circuit=""} == 1').test(Point((), 1.0), NOW) is True


def test_prev_and_the_three_values() -> None:
    edge = "ifOperStatus == 2 and prev(ifOperStatus) == 1"
    assert _test(edge, 2, previous=1) is True
    assert _test(edge, 2, previous=2) is False
    assert _test(edge, 1, previous=1) is False
    assert _test(edge, 2, previous=None) is None  # never seen before: unknown, not true
    assert _test(edge, 1, previous=None) is False  # false and unknown is false
    assert parse(edge).uses_prev and not parse("x == 1").uses_prev
    restart = "sysUpTime < prev(sysUpTime)"
    assert _test(restart, 30, previous=86400) is True
    assert _test(restart, 86430, previous=86400) is False
    assert _test(restart, 30, previous=None) is None
    # or: true decides, unknown stays unknown against false
    either = 'x{circuit!=""} != 1 or (x == 2 and prev(x) == 1)'
    assert _test(either, 2, None, circuit="c") is True
    assert _test(either, 2, None) is None
    assert _test(either, 2, 2) is False
    assert _test(either, 2, 1) is True
    assert parse(either).shown(Point((), 2.0, 1.0), NOW) == 2.0  # the first comparison it has


def test_precedence_and_parentheses() -> None:
    # and binds tighter than or: "a or b and c" is "a or (b and c)"
    assert _test("x == 1 or x == 2 and x == 3", 1) is True
    assert _test("(x == 1 or x == 2) and x == 3", 1) is False
    assert _test("x == 1 or x == 2 and x == 3", 2) is False
    assert _test("x < prev(x) - 10", 5, previous=20) is True
    assert _test("x < prev(x) - 10", 15, previous=20) is False


def test_rate_and_global_conditions() -> None:
    c = parse("rate(ifInErrors[5m]) > 1")
    assert c.rate_window == 300 and c.selector == Selector("ifInErrors")
    assert c.test(Point((), 100.0, rates={300.0: 2.0}), NOW) is True
    assert c.test(Point((), 100.0), NOW) is None  # no rate yet
    w = parse("time() > 0")
    assert w.is_global and w.test(None, 1.0) is True and w.test(None, -1.0) is False


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("probe_success", "a comparison"),
        ("probe_success == ", "column"),
        ("a + b > 1", "only one sample"),
        ("a > 1 or prev(b) == 1", "only one sample per condition (found b after a)"),
        ("max(a) > 1", "unknown function max()"),
        ("a > 1 junk", "the end of the condition"),
        ("a > 1 and", "column 10: expected a sample name"),
        ("(a > 1", "column 7: expected ) closing ("),
        ("prev(a) == 1)", "the end of the condition"),
        ("rate(a[0s]) > 1", "must be positive"),
        ("a{b=1} > 1", "column"),
    ],
)
def test_errors_say_where_and_what(text: str, says: str) -> None:
    with pytest.raises(ExprError, match=re.escape(says)):
        parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "probe_success == 0",
        "probe_icmp_packet_loss_ratio > 0.2",
        'probe_icmp_rtt_seconds{stat="avg"} > 150ms',
        "probe_icmp_jitter_seconds >= 30ms + 5ms",
        "-probe_http_status_code < -399",
        'ifOperStatus{ifName="ge-0/0/1",ifAlias="Uplink"} != 1',
        "probe_dns_answer_rrs <= 0",
    ],
)
def test_the_quick_form_says_what_test_says(text: str) -> None:
    """The engine tests a rule's series with Condition.quick when it can (issue 17): for every
    value, NaN and infinities too, and for labels that do and do not match, it must answer
    what the full Condition.matches and Condition.test answer."""
    condition = parse(text)
    quick = condition.quick
    assert quick is not None and condition.selector is not None
    assert quick.name == condition.selector.name
    label_sets = [
        (),
        (("stat", "avg"),),
        (("stat", "max"),),
        (("ifIndex", "3"), ("ifName", "ge-0/0/1"), ("ifAlias", "Uplink")),
        (("ifName", "ge-0/0/1"),),
    ]
    values = [0.0, -0.0, 0.2, 0.2000001, 0.15, 0.151, 0.035, 0.03, 1.0, 2.0, 399.0, 400.0, -1.0]
    values += [math.nan, math.inf, -math.inf, 1e300]
    for labels in label_sets:
        assert quick.selects(labels) is condition.matches(labels), labels
        if not condition.matches(labels):
            continue
        for value in values:
            full = condition.test(Point(labels, value), NOW) is True
            assert quick.holds(value) is full, (labels, value)


@pytest.mark.parametrize(
    "text",
    [
        "probe_ssl_earliest_cert_expiry - time() < 21d",
        "prev(ifOperStatus) == 1 and ifOperStatus != 1",
        "rate(ifHCInOctets[5m]) > 1e9",
        'ifOperStatus{ifAlias!="spare"} != 1',
        'ifOperStatus{circuit=""} != 1',
        "probe_duration_seconds > 5 or probe_duration_seconds < 0",
        "5 < probe_duration_seconds",
        "time() > 0",
    ],
)
def test_other_shapes_have_no_quick_form(text: str) -> None:
    assert parse(text).quick is None
