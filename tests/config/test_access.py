"""Tokens, roles and operator scopes (monitor/access.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.config import SettingsError, Target, load_settings
from monitor.config.access import AccessSettings, token_digest
from monitor.web.access import Access

VIETTEL = "viettel-token-0123456789"
NOC = "noc-token-abcdef"


def access(**extra: object) -> Access:
    return Access(
        AccessSettings.model_validate(
            {
                "tokens": [
                    {
                        "name": "viettel",
                        "role": "operator",
                        "scope": {"carrier": "viettel"},
                        "sha256": token_digest(VIETTEL),
                    },
                    {"name": "noc", "role": "noc", "sha256": token_digest(NOC)},
                ],
                **extra,
            }
        ),
        max_delay=0.3,
    )


def target(name: str, **labels: str) -> Target:
    return Target.model_validate(
        {"name": name, "kind": "icmp", "host": "127.0.2.1", "group": "carrier", "labels": labels}
    )


async def test_roles_and_scope() -> None:
    acc = access()
    operator = await acc.authenticate(f"Bearer {VIETTEL}", "127.0.0.1")
    noc = await acc.authenticate(f"Bearer {NOC}", "127.0.0.1")
    assert operator is not None and operator.role == "operator"
    assert noc is not None and noc.at_least("noc") and not noc.at_least("admin")
    assert operator.sees(target("venue-viettel-uplink", carrier="viettel"))
    assert not operator.sees(target("venue-vnpt-uplink", carrier="vnpt"))
    assert not operator.sees(target("venue-core-switch"))  # no carrier label: not theirs
    assert noc.sees(target("venue-vnpt-uplink", carrier="vnpt"))
    assert not operator.at_least("noc")


async def test_missing_and_wrong_tokens() -> None:
    acc = access()
    # Tokens are configured: no anonymous access, even from loopback.
    assert await acc.authenticate(None, "127.0.0.1") is None
    assert await acc.authenticate("Bearer nope", "127.0.0.1") is None
    assert await acc.authenticate(f"Basic {VIETTEL}", "127.0.0.1") is None
    assert await acc.authenticate(f"Bearer {VIETTEL}x", "127.0.0.1") is None


async def test_repeated_failures_are_slowed_but_the_right_token_is_not() -> None:
    acc = access()
    for _ in range(3):
        assert await acc.authenticate("Bearer guess", "127.0.0.9") is None
    start = time.monotonic()
    for _ in range(3):
        await acc.authenticate("Bearer guess", "127.0.0.9")
    slowed = time.monotonic() - start
    assert slowed >= 0.1 + 0.2 + 0.3 - 0.05  # 0.1, 0.2, then the 0.3 cap
    start = time.monotonic()
    assert await acc.authenticate(f"Bearer {NOC}", "127.0.0.9") is not None
    assert time.monotonic() - start < 0.05


async def test_anonymous_defaults() -> None:
    # Closed unless set (issue 13, finding 4): the lab's "auto" is written in its settings.
    assert await Access(AccessSettings()).authenticate(None, "127.0.0.1") is None
    open_lab = Access(AccessSettings(anonymous="auto"))
    principal = await open_lab.authenticate(None, "127.0.0.1")
    assert principal is not None and principal.role == "admin"
    assert await open_lab.authenticate(None, "10.1.2.3") is None  # not loopback: nobody
    assert await access(anonymous="noc").authenticate(None, "127.0.0.1") is not None


@pytest.mark.parametrize(
    ("tokens", "words"),
    [
        (
            '[[access.tokens]]\nname = "v"\nrole = "operator"\nsha256 = "' + "a" * 64 + '"\n',
            "needs a scope",
        ),
        ('[[access.tokens]]\nname = "v"\nrole = "root"\nsha256 = "' + "a" * 64 + '"\n', "role"),
        ('[[access.tokens]]\nname = "v"\nrole = "noc"\nsha256 = "xyz"\n', "64 hex digits"),
    ],
)
def test_token_settings_errors(write_toml: Callable[..., Path], tokens: str, words: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(write_toml(tokens))
    assert any(str(i).startswith("access.tokens") and words in str(i) for i in info.value.issues)
