"""Finding 10 of issue 13: bad settings are refused cleanly.

Deeply nested TOML raised RecursionError (a traceback from check-config, a 500 on reload);
phase dates at the ends of the calendar passed validation and then broke every page showing
them; ``include = ["/dev/zero"]`` ended in MemoryError; a FIFO include hung check-config, and
hung a reload forever while it held its lock. Now every loading error is a ``SettingsError``
naming its key path: includes and secret files must be regular files under a size cap, nesting
is capped before anything recurses, phase times lie in 2000-2100 (UTC), and loading has a time
budget. The loader is fuzzed: no input may give anything but settings or a SettingsError.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import SettingsError, load_settings
from monitor.config import load as loader
from tests.support.alerts import metric, running, write_settings
from tests.support.common import REPO

GOOD = """
[[targets]]
name = "venue-core-switch"
kind = "icmp"
host = "127.0.2.1"
"""


def _memory_cap() -> None:
    # 2 GiB of address space: code that reads /dev/zero dies of MemoryError, not the machine.
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def check_config(path: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "check-config", str(path)],
        preexec_fn=_memory_cap,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )


def errors_of(path: Path) -> list[str]:
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    return [str(i) for i in info.value.issues]


@contextlib.contextmanager
def fifo(path: Path) -> Iterator[Path]:
    """A FIFO with no writer; on the way out, a writer comes and goes so that a reader stuck on
    it (the code before the fix) sees end of file instead of hanging the test run."""
    os.mkfifo(path)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


def nested(depth: int) -> str:
    return "a = " + "[" * depth + "]" * depth + "\n"


def test_nesting_10000_deep_exits_2_with_its_key(write_toml: Callable[..., Path]) -> None:
    proc = check_config(write_toml(nested(10_000)))
    assert proc.returncode == 2, proc.stderr
    assert f"a: nested deeper than {loader.MAX_DEPTH} levels (line 1)" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[alerts]\nx = " + "{b = " * 5000 + "1" + "}" * 5000, "alerts.x"),
        ("[[targets]]\nlabels = " + "[" * 400 + "]" * 400, "targets.labels"),
        ("a" + ".b" * 5000 + " = 1", "a.b.b.b"),
        (
            '[server]\nx = """[[[\n"""\n' + nested(600),
            "server.a",
        ),  # brackets in strings do not count
    ],
)
def test_deep_nesting_of_every_form_is_refused(
    write_toml: Callable[..., Path], text: str, where: str
) -> None:
    errors = errors_of(write_toml(text))
    assert len(errors) == 1 and errors[0].startswith(where), errors
    assert f"nested deeper than {loader.MAX_DEPTH} levels" in errors[0]


def test_nesting_within_the_cap_still_loads(write_toml: Callable[..., Path]) -> None:
    # Brackets inside strings and comments are not nesting; the shipped files load elsewhere.
    text = 'title = "[[[[[[[[[[[[[[[[[[[[[[[[[[[[["  # [[[[[[[[[[[[[[[[[[[[[[[[[[[[\n'
    errors = errors_of(write_toml(text + nested(loader.MAX_DEPTH - 1)))
    assert errors == ["title: unknown key", "a: unknown key"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01T00:00:00+23:59", "2025-10-16T18:00:00+07:00"),
        ("2025-10-14T07:00:00+07:00", "9999-12-31T23:59:59-23:59"),
        ("1999-12-31T23:59:59Z", "2025-10-16T18:00:00+07:00"),
        ("2025-10-14T07:00:00+07:00", "2101-01-01T00:00:00Z"),
    ],
)
def test_phase_dates_at_the_calendar_ends_are_refused(
    write_toml: Callable[..., Path], start: str, end: str
) -> None:
    path = write_toml(f'[[phases]]\nname = "dai-hoi"\nstart = {start}\nend = {end}\n' + GOOD)
    errors = errors_of(path)
    bad = "start" if not start.startswith("2025") else "end"
    assert len(errors) == 1 and errors[0].startswith(f"phases[0].{bad}: "), errors
    assert "between the years 2000 and 2100" in errors[0]
    proc = check_config(path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr + proc.stdout


def test_phase_dates_at_the_bounds_load(write_toml: Callable[..., Path]) -> None:
    start, end = "2000-01-01T07:00:00+07:00", "2100-12-31T23:59:59Z"
    text = f'[[phases]]\nname = "x"\nstart = {start}\nend = {end}\n'
    settings = load_settings(write_toml(text + GOOD))
    assert settings.phases[0].start.astimezone(UTC) == datetime(2000, 1, 1, tzinfo=UTC)
    # One second earlier, in UTC, is 1999: refused.
    errors = errors_of(write_toml(text.replace("07:00:00+07:00", "06:59:59+07:00") + GOOD))
    assert len(errors) == 1 and errors[0].startswith("phases[0].start: ")
    # A year after the conversion stays printable in local time at either end.
    assert settings.phases[0].end.astimezone(timezone(timedelta(hours=7))).year == 2101


def test_include_of_a_device_is_refused(write_toml: Callable[..., Path]) -> None:
    # In a subprocess with a memory cap: the code before the fix read /dev/zero until it ran out.
    proc = check_config(write_toml('include = ["/dev/zero"]\n' + GOOD))
    assert proc.returncode == 2, proc.stderr
    assert "include[0]: /dev/zero is not a regular file" in proc.stderr


def test_include_over_the_size_cap_is_refused(
    write_toml: Callable[..., Path], tmp_path: Path
) -> None:
    big = tmp_path / "big.toml"
    with big.open("wb") as f:
        f.truncate(loader.SETTINGS_FILE_LIMIT + 1)  # sparse: no disk, no time
    errors = errors_of(write_toml('include = ["big.toml"]\n' + GOOD))
    assert len(errors) == 1 and errors[0].startswith("include[0]: "), errors
    assert f"more than the {loader.SETTINGS_FILE_LIMIT} allowed" in errors[0]


def test_fifo_include_refused_at_once(write_toml: Callable[..., Path], tmp_path: Path) -> None:
    with fifo(tmp_path / "targets.toml"):
        path = write_toml('include = ["targets.toml"]\n' + GOOD)
        outcome: list[object] = []

        def load() -> None:
            try:
                load_settings(path)
            except SettingsError as exc:
                outcome.append([str(i) for i in exc.issues])

        worker = threading.Thread(target=load, daemon=True)
        worker.start()
        worker.join(2)  # the fix returns after one fstat; the old code waited for a writer
        assert outcome == [[f"include[0]: {tmp_path}/targets.toml is not a regular file"]]
        proc = check_config(path, timeout=30)
        assert proc.returncode == 2 and "is not a regular file" in proc.stderr


@pytest.mark.parametrize("make", ["fifo", "device", "big"])
def test_secret_files_are_regular_and_small(
    write_toml: Callable[..., Path], tmp_path: Path, make: str
) -> None:
    secret = tmp_path / "token"
    with contextlib.ExitStack() as stack:
        if make == "fifo":
            stack.enter_context(fifo(secret))
        elif make == "device":
            secret = Path("/dev/zero")
        else:
            secret.write_bytes(b"x" * (64 * 1024 + 1))
        text = (
            '[alerts.receivers.noc]\ntype = "telegram"\nchat_id = "-100"\n'
            f'bot_token_file = "{secret}"\n'
        )
        errors = errors_of(write_toml(text))
        assert any(e.startswith("alerts.receivers.noc") for e in errors), errors
        assert all("xxxx" not in e for e in errors)


async def test_reload_with_a_fifo_include_fails_fast_and_keeps_settings(tmp_path: Path) -> None:
    path = write_settings(tmp_path / "settings.toml", [GOOD_TARGET], {})
    async with running(path) as service:
        with fifo(tmp_path / "more.toml"):
            text = path.read_text(encoding="utf-8")
            path.write_text('include = ["more.toml"]\n' + text, encoding="utf-8")
            errors = await asyncio.wait_for(service.reload(), 5)
            assert errors == [f"include[0]: {tmp_path}/more.toml is not a regular file"]
            assert metric(service, "netmon_config_last_reload_successful") == 0
            assert [t.name for t in service.settings.targets] == ["venue-core-switch"]
        # The lock is free: the next good file is taken.
        path.write_text(text.replace("venue-core-switch", "venue-switch"), encoding="utf-8")
        assert await asyncio.wait_for(service.reload(), 5) == []
        assert metric(service, "netmon_config_last_reload_successful") == 1
        assert [t.name for t in service.settings.targets] == ["venue-switch"]


GOOD_TARGET: dict[str, Any] = {
    "name": "venue-core-switch",
    "kind": "tcp",
    "host": "127.0.0.1",
    "tcp": {"port": 9},
}


async def test_reload_past_its_budget_fails_and_keeps_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_settings(tmp_path / "settings.toml", [GOOD_TARGET], {})
    release = threading.Event()
    read = loader._read_toml

    def stuck(*args: Any) -> dict[str, Any]:
        release.wait(30)  # a read that does not end, as the FIFO's did
        return read(*args)

    async with running(path) as service:
        monkeypatch.setattr(loader, "LOAD_BUDGET_SECONDS", 0.2)
        monkeypatch.setattr(loader, "_read_toml", stuck)
        try:
            errors = await asyncio.wait_for(service.reload(), 10)
        finally:
            release.set()
        assert len(errors) == 1 and "took longer than 0.2 s; refused" in errors[0]
        assert metric(service, "netmon_config_last_reload_successful") == 0
        assert [t.name for t in service.settings.targets] == ["venue-core-switch"]


async def test_reload_that_raises_is_a_failed_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_settings(tmp_path / "settings.toml", [GOOD_TARGET], {})

    def broken(*args: Any) -> dict[str, Any]:
        raise RuntimeError("a bug in the loader")

    async with running(path) as service:
        monkeypatch.setattr(loader, "_read_toml", broken)
        errors = await service.reload()
        assert errors == ["the settings could not be loaded (see the log)"]
        assert metric(service, "netmon_config_last_reload_successful") == 0
        assert [t.name for t in service.settings.targets] == ["venue-core-switch"]


# The fuzz: TOML-ish documents built from the settings' own keys and random ones, random
# nesting, unicode and datetimes (offsets to ±23:59, years 1 to 9999), then broken at random.

KEYS = st.sampled_from(
    [
        *("server", "defaults", "scheduler", "phases", "targets", "alerts", "access", "traps"),
        *("grafana", "prometheus", "name", "kind", "host", "url", "start", "end", "interval"),
        *("labels", "depends_on", "receivers", "routes", "listen", "timezone", "title"),
    ]
) | st.text(min_size=1, max_size=8)
OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
DATETIMES = st.datetimes(timezones=OFFSETS) | st.datetimes() | st.dates() | st.times()
SCALARS = (
    st.text(max_size=20)
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.booleans()
    | DATETIMES
    | st.sampled_from(["127.0.0.1", "icmp", "http", "30s", "-1", "=HYPERLINK(1)", "dai-hoi"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=30,
)
PHASE = st.fixed_dictionaries({"name": st.just("p"), "start": DATETIMES, "end": DATETIMES})
DOCUMENTS = st.dictionaries(KEYS, VALUES, max_size=5) | st.fixed_dictionaries(
    {"phases": st.lists(PHASE, min_size=1, max_size=2)}
)


@st.composite
def texts(draw: st.DrawFn) -> str:
    doc = draw(DOCUMENTS)
    doc.pop("include", None)  # random include paths could glob the whole machine
    text = tomli_w.dumps(doc)
    depth = draw(st.integers(0, 3000))
    if depth:
        opener, closer = draw(st.sampled_from([("[", "]"), ("{b = ", "}")]))
        text += "d = " + opener * depth + ("1" if "{" in opener else "") + closer * depth + "\n"
    for _ in range(draw(st.integers(0, 3))):  # break it somewhere
        at = draw(st.integers(0, len(text)))
        bit = draw(st.sampled_from(["[", "]", "{", "}", '"', "'", "#", "\n", "=", "."]) | st.text())
        text = text[:at] + bit + text[at:]
    return text


@given(text=texts())
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_only_settings_or_settings_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "settings.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            loaded = load_settings(path)
        except SettingsError as exc:
            assert exc.issues and not any("took longer" in str(i) for i in exc.issues)
        else:
            # What loads can be shown: every phase time prints in local time.
            for phase in loaded.phases:
                for when in (phase.start, phase.end):
                    when.astimezone(timezone(timedelta(hours=23, minutes=59))).isoformat()
                    when.astimezone(timezone(-timedelta(hours=23, minutes=59))).isoformat()
                    datetime.fromtimestamp(when.timestamp(), UTC)
