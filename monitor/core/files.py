"""Reading a file the settings name (an include, a ``*_file`` secret) without trusting it.

The path may be anything an operator typed or a glob matched: a FIFO (an ``open()`` that
never returns), a device (``/dev/zero``, endless), a file of gigabytes. ``read_regular_file``
opens without blocking, checks what it opened (``fstat``, so a swap after a check cannot fool
it), and reads at most ``limit`` bytes; anything else is a ``FileRefused`` whose message says
why, for the caller to put under its key path.
"""

from __future__ import annotations

import os
import stat

__all__ = ["FileRefused", "read_regular_file"]


class FileRefused(Exception):
    """The file is missing, unreadable, not a regular file or larger than allowed."""


def read_regular_file(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them; FileRefused otherwise."""
    try:
        # O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise FileRefused(f"file {os.fspath(path)} not found") from None
    except OSError as exc:
        raise FileRefused(f"cannot read {os.fspath(path)}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{os.fspath(path)} is not a regular file")
        if info.st_size > limit:
            raise FileRefused(
                f"{os.fspath(path)} is {info.st_size} bytes, more than the {limit} allowed"
            )
        chunks: list[bytes] = []
        size = 0
        # Read to one byte past the limit: a file that grew after fstat is refused too.
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise FileRefused(f"{os.fspath(path)} is more than the {limit} bytes allowed")
        return b"".join(chunks)
    except OSError as exc:
        raise FileRefused(f"cannot read {os.fspath(path)}: {exc.strerror}") from None
    finally:
        os.close(fd)
