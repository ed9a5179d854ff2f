"""Secrets given inline, as ``<key>_env = "VAR"`` or as ``<key>_file = "path"``.

Resolved once at load. A missing variable or file is an error naming the key; the secret's
value never appears in an error, a log line, a metric or an API answer. A secret file must be a
regular file of at most ``SECRET_FILE_LIMIT`` bytes (monitor/core/files.py): a FIFO or a device
named there is refused, not waited on or read forever.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import SecretStr

from monitor.core.files import FileRefused, read_regular_file

SECRET_FILE_LIMIT = 64 * 1024


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
        try:
            data = read_regular_file(file, SECRET_FILE_LIMIT)
            return SecretStr(data.decode("utf-8").strip())
        except FileRefused as exc:
            raise ValueError(f"secret file: {exc}") from None
        except UnicodeDecodeError:
            raise ValueError(f"secret file {file} is not UTF-8 text") from None
    return inline
