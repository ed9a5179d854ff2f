"""Every console command works on a plain ``pip install`` (issue 11): a venv of its own, the
package installed without any extra, then ``netmon --help`` and ``netmon COMMAND --help`` for
each command of the table.

``netmon drill --help`` once failed this way: the drill imported tomli_w, then a test extra. Slow
(one venv, the runtime dependencies from the machine's package index), and it shares nothing
with other tests: the sources are copied into its own folder, so the build writes nothing in
the repository, and the commands run there with no PYTHONPATH, so only the install answers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli.main import COMMANDS
from tests.support.common import REPO

SOURCES = ("pyproject.toml", "README.md", "monitor", "probes", "alerts", "grafana")
TEST_EXTRAS = ("pytest", "playwright", "schemathesis", "mypy", "aiosmtpd")


def _run(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.timeout(900)
def test_every_command_answers_help_on_a_plain_install(tmp_path: Path) -> None:
    source = tmp_path / "netmon"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(REPO / name, source / name, ignore=ignore)
        else:
            shutil.copy2(REPO / name, source / name)
    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)], tmp_path, 120)
    assert made.returncode == 0, made.stderr
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(source)]
    installed = _run(pip, tmp_path, 780)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]

    # No test extra came along: what the commands need is in the runtime dependencies.
    probe = "import importlib.util as u, sys; print(*[m for m in sys.argv[1:] if u.find_spec(m)])"
    found = _run([str(venv / "bin" / "python"), "-c", probe, *TEST_EXTRAS], tmp_path, 60)
    assert found.returncode == 0 and found.stdout.split() == [], found.stdout + found.stderr

    netmon = str(venv / "bin" / "netmon")
    listing = _run([netmon, "--help"], tmp_path, 60)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.startswith("usage: netmon COMMAND"), listing.stdout
    assert all(f"  {name} " in listing.stdout for name in COMMANDS), listing.stdout

    failed = []
    for words in [[name] for name in COMMANDS] + [["lab", "--netns"]]:
        done = _run([netmon, *words, "--help"], tmp_path, 60)
        if done.returncode != 0 or not done.stdout.startswith(f"usage: netmon {' '.join(words)}"):
            failed.append(f"netmon {' '.join(words)} --help: exit {done.returncode}\n"
                          f"{done.stdout[-500:]}{done.stderr[-1500:]}")  # fmt: skip
    assert failed == [], "\n".join(failed)
