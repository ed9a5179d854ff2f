from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from monitor.core.labels import Labelled, matches, target_labels

BOTH = {"group": ["carrier"], "carrier": ["vnpt"]}


@pytest.mark.parametrize(
    ("match", "labels", "expected"),
    [
        ({}, {"group": "venue"}, True),
        ({"group": ["carrier", "venue"]}, {"group": "venue"}, True),
        ({"group": ["carrier"]}, {"group": "venue"}, False),
        ({"carrier": ["viettel"]}, {"group": "carrier"}, False),  # a missing label never matches
        (
            {"group": ["carrier"], "carrier": ["vnpt"]},
            {"group": "carrier", "carrier": "vnpt"},
            True,
        ),
        (
            {"group": ["carrier"], "carrier": ["vnpt"]},
            {"group": "carrier", "carrier": "fpt"},
            False,
        ),
    ],
)
def test_matches_needs_every_key(
    match: dict[str, list[str]], labels: dict[str, str], expected: bool
) -> None:
    assert matches(match, labels) is expected


@dataclass
class _Target:
    name: str
    kind: str
    group: str
    labels: dict[str, str] = field(default_factory=dict)


def test_target_labels_put_the_fields_over_own_labels() -> None:
    target: Labelled = _Target("venue-vnpt", "icmp", "carrier", {"carrier": "vnpt"})
    assert target_labels(target) == {
        "carrier": "vnpt",
        "target": "venue-vnpt",
        "kind": "icmp",
        "group": "carrier",
    }
