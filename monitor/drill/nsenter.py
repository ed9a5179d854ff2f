"""Sockets and HTTP inside a named network namespace, from this (root-namespace) process.

``setns(2)`` moves only the calling thread; a socket keeps the namespace it was created in, so
``socket.socket()`` is the only call made while switched, and the thread switches back at once.
This is how the tests reach netmon, Alertmanager and Prometheus running in netmon's namespace
without any interface in the root namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import http.client
import json
import os
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def entered(netns: str) -> Iterator[None]:
    """This thread in ``netns`` for the duration of the block."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns({netns}): {os.strerror(err)}")
            try:
                yield
            finally:
                if _libc.setns(own, CLONE_NEWNET) != 0:  # pragma: no cover - cannot happen as root
                    raise OSError(ctypes.get_errno(), "setns back to the own namespace failed")
        finally:
            os.close(target)
    finally:
        os.close(own)


def ns_socket(
    netns: str, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM
) -> socket.socket:
    with entered(netns):
        return socket.socket(family, kind)


def listening_socket(netns: str, host: str, port: int = 0) -> socket.socket:
    sock = ns_socket(netns)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def free_port(netns: str, host: str = "127.0.0.1") -> int:
    with ns_socket(netns) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class _Conn(http.client.HTTPConnection):
    def __init__(self, netns: str, host: str, port: int | None, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._netns = netns

    def connect(self) -> None:
        sock = ns_socket(self._netns)
        sock.settimeout(self.timeout)
        try:
            sock.connect((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.sock = sock


def request_sync(
    netns: str, method: str, url: str, body: Any = None, timeout: float = 5.0
) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = _Conn(netns, parts.hostname or "127.0.0.1", parts.port, timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path or "/", body=data, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


async def request(
    netns: str, method: str, url: str, body: Any = None, wait: float = 5.0
) -> tuple[int, bytes]:
    return await asyncio.to_thread(request_sync, netns, method, url, body, wait)


async def get_json(netns: str, url: str, wait: float = 5.0) -> Any:
    status, data = await request(netns, "GET", url, wait=wait)
    if status != 200:
        raise OSError(f"GET {url}: HTTP {status}")
    return json.loads(data)
