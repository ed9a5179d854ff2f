"""Secrets given inline, as ``<key>_env = "VAR"`` or as ``<key>_file = "path"``.

Resolved once at load. A missing variable or file is an error naming the key; the secret's
value never appears in an error, a log line, a metric or an API answer.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import SecretStr


def check_env(var: str | None) -> str | None:
    if var is not None and var not in os.environ:
        raise ValueError(f"environment variable {var} is not set")
    return var


def check_file(path: str | None) -> str | None:
    if path is not None and not Path(path).is_file():
        raise ValueError(f"secret file {path} does not exist or is not a file")
    return path


def resolve(inline: SecretStr | None, env: str | None, file: str | None) -> SecretStr | None:
    given = [x for x in (inline, env, file) if x is not None]
    if len(given) > 1:
        raise ValueError("give the secret once: inline, as *_env, or as *_file")
    if env is not None:
        return SecretStr(os.environ[env])
    if file is not None:
        return SecretStr(Path(file).read_text(encoding="utf-8").strip())
    return inline
