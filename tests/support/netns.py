"""The namespace lab for tests (issue 7): ``lab_for(tmp_path)`` builds it, tears it down whatever
happens, and removes namespaces a dead earlier run left (``nmd-*`` whose owner is gone: another
live run's are left alone) before building.

Root only: ``needs_netns_lab`` skips, saying why, when not root or when snmpd, nftables or
Debian's Alertmanager are missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from monitor.drill.netns import PREFIX, NetnsLab, clean_stale, lab_namespaces
from monitor.drill.processes import which_missing
from monitor.drill.scenarios import Drill, drill
from monitor.drill.sink import Page


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "the namespace lab needs root (ip netns, veth, nftables); CI runs as root"
    missing = which_missing()
    if missing:
        return f"the namespace lab needs {', '.join(missing)} (make debs-test installs them)"
    return None


_REASON = _skip_reason()
needs_netns_lab = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")

_cleaned = False


@contextlib.asynccontextmanager
async def lab_for(tmp_path: Path) -> AsyncIterator[NetnsLab]:
    global _cleaned
    if not _cleaned:
        clean_stale()
        _cleaned = True
    lab = NetnsLab(tmp_path / "lab")
    await asyncio.to_thread(lab.build)
    try:
        await asyncio.to_thread(lab.wait_ready)
        yield lab
    finally:
        await asyncio.to_thread(lab.teardown)
        leftover = [ns for ns in lab_namespaces() if ns.startswith(f"{PREFIX}{lab.tag}-")]
        assert not leftover, f"namespaces left behind: {leftover}"


@contextlib.asynccontextmanager
async def drill_for(tmp_path: Path) -> AsyncIterator[Drill]:
    """The lab with a real Alertmanager, its webhook and ``netmon run`` in netmon's namespace."""
    async with lab_for(tmp_path) as lab, drill(lab) as d:
        yield d


def new_pages(pages: Iterable[Page], group: dict[str, str] | None = None) -> list[Page]:
    """The firing notifications (of ``group``, e.g. {"carrier": "vnpt"}) that bring an alert
    not paged before: a phone that buzzes for something new, not a repeat or an update."""
    seen: set[tuple[str, str]] = set()
    out = []
    for page in pages:
        if group is not None and any(page.group.get(k) != v for k, v in group.items()):
            continue
        if page.status == "firing" and page.names() - seen:
            out.append(page)
        seen |= page.names()
    return out
