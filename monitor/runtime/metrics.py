"""/metrics: the store rendered in Prometheus text format.

Rendering 100k series at every scrape costs too much CPU for one event loop
(prometheus_client's generate_latest: 891.5 ms CPU, median, for 100,008 series in
bench/results/metrics.json), so each target's lines are rendered when its result arrives (a
store listener), kept per metric family, and only joined at scrape time (7.1 ms there).
The families' HELP, TYPE and order come from the metric catalogue (probes/catalogue.py).
netmon's own health metrics are few and go through prometheus_client.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.config import Target
from monitor.runtime.store import Observation, Store, TargetState
from probes.catalogue import BY_NAME, CATALOGUE


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_value(value: float) -> str:
    try:
        whole = int(value)
    except (OverflowError, ValueError):  # infinite, or NaN
        return "NaN" if value != value else ("+Inf" if value > 0 else "-Inf")
    if value == whole and -1e15 < value < 1e15:
        return str(whole)
    return repr(value)


def _value_line(value: float) -> bytes:
    """``format_value(value)`` and the newline, as bytes, in one step (per sample per result)."""
    try:
        whole = int(value)
    except (OverflowError, ValueError):  # infinite, or NaN
        return b"NaN\n" if value != value else (b"+Inf\n" if value > 0 else b"-Inf\n")
    if value == whole and -1e15 < value < 1e15:
        return b"%d\n" % whole
    return b"%r\n" % value


def target_labels(target: Target) -> str:
    """The label pairs every series of ``target`` carries, rendered once per target."""
    pairs = [("target", target.name), ("kind", target.kind), ("group", target.group)]
    pairs += sorted(target.labels.items())
    return ",".join(f'{k}="{escape_label_value(v)}"' for k, v in pairs)


def _line(name: str, base: str, extra: Iterable[tuple[str, str]], value: float) -> str:
    more = "".join(f',{k}="{escape_label_value(v)}"' for k, v in extra)
    return f"{name}{{{base}{more}}} {format_value(value)}\n"


def render_target(target: Target, observation: Observation) -> dict[str, str]:
    """Every series of one target's latest result, grouped by metric family."""
    base = target_labels(target)
    result = observation.result
    out: dict[str, str] = {
        "probe_success": _line("probe_success", base, (), 1.0 if result.success else 0.0),
        "probe_duration_seconds": _line("probe_duration_seconds", base, (), observation.duration),
    }
    if not result.success:
        out["probe_failure_info"] = _line(
            "probe_failure_info", base, (("reason", result.reason or "unknown"),), 1.0
        )
    for sample in result.samples:
        out[sample.name] = out.get(sample.name, "") + _line(
            sample.name, base, sample.labels, sample.value
        )
    return out


# A target's line heads kept at most: label values that change every result (none of the
# catalogue's do) cannot grow the cache without bound.
_PREFIXES_MAX = 4096


class _Prefixes:
    """One target's line heads (``name{labels} ``), escaped and encoded once and reused for
    every result: the same bytes as ``render_target`` (tests/runtime/test_metrics.py pins it),
    a third of its cost. Lines are kept as UTF-8 bytes, so a scrape joins them without
    encoding 15 MB of text (Vietnamese labels make Python's strings wide, and slow to encode)."""

    __slots__ = ("base", "duration_head", "heads", "success_head", "target")

    def __init__(self, target: Target) -> None:
        self.target = target
        self.base = target_labels(target)
        self.heads: dict[tuple[str, tuple[tuple[str, str], ...]], bytes] = {}
        self.success_head = self.head("probe_success", ())
        self.duration_head = self.head("probe_duration_seconds", ())

    def head(self, name: str, extra: tuple[tuple[str, str], ...]) -> bytes:
        key = (name, extra)
        head = self.heads.get(key)
        if head is None:
            if len(self.heads) >= _PREFIXES_MAX:
                self.heads.clear()
            more = "".join(f',{k}="{escape_label_value(v)}"' for k, v in extra)
            head = self.heads[key] = f"{name}{{{self.base}{more}}} ".encode()
        return head

    def render(self, observation: Observation) -> dict[str, bytes]:
        result = observation.result
        head = self.head
        out: dict[str, bytes] = {
            "probe_success": self.success_head + (b"1\n" if result.success else b"0\n"),
            "probe_duration_seconds": self.duration_head + _value_line(observation.duration),
        }
        if not result.success:
            out["probe_failure_info"] = (
                head("probe_failure_info", (("reason", result.reason or "unknown"),)) + b"1\n"
            )
        heads = self.heads
        several: dict[str, list[bytes]] | None = None  # families of more lines, joined once
        for sample in result.samples:
            name = sample.name
            line = (heads.get((name, sample.labels)) or head(name, sample.labels)) + _value_line(
                sample.value
            )
            previous = out.get(name)
            if previous is None:
                out[name] = line
                continue
            if several is None:
                several = {}
            parts = several.get(name)
            if parts is None:
                several[name] = [previous, line]
            else:
                parts.append(line)
        if several:
            for name, parts in several.items():
                out[name] = b"".join(parts)
        return out


# Targets per block: each metric family's lines are kept in blocks of this many targets (in
# the order their first results came, which is the scheduler's order of offsets, so the targets
# that changed between two scrapes sit in few blocks), and each block keeps its lines deflated.
BLOCK_TARGETS = 256
# Below this many bytes to compress, deflate is cheaper on the loop than a hop to a thread.
_GZIP_INLINE = 64 * 1024

# The gzip body of a scrape is ONE gzip member (curl --compressed and browsers read only the
# first member of a multi-member body; Prometheus's Go reader reads them all) whose deflate
# stream is the kept pieces one after the other: each piece is deflated on its own and ends in
# a sync flush (byte-aligned, not final), so the pieces concatenate into one valid stream, as
# pigz does. The member's CRC-32 is combined from the pieces' (zlib's crc32_combine, which
# Python's zlib does not expose, in the GF(2) arithmetic below).
_GZIP_HEAD = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no name, no mtime, OS unknown
_DEFLATE_END = b"\x03\x00"  # an empty final block
_CRC_POLY = 0xEDB88320  # CRC-32, reflected


def _multmodp(a: int, b: int) -> int:
    """a(x) * b(x) modulo the CRC-32 polynomial, reflected (zlib's multmodp)."""
    m = 1 << 31
    p = 0
    while True:
        if a & m:
            p ^= b
            if not a & (m - 1):
                return p
        m >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1


def _x2n_table() -> list[int]:
    table, p = [], 1 << 30  # x^1
    for _ in range(32):
        table.append(p)
        p = _multmodp(p, p)
    return table


_X2N = _x2n_table()  # x^(2^n) modulo the polynomial


_SHIFT_BYTES: list[list[int]] = []  # [j][k]: x^(8 * (k << 8j)) modulo the polynomial


def _shift_tables() -> list[list[int]]:
    if not _SHIFT_BYTES:  # made at the first scrape: 1,024 products, a few ms once
        for j in range(4):
            one = _X2N[3 + 8 * j]  # x^(8 * 2^(8j))
            row = [1 << 31, one]
            for _ in range(254):
                row.append(_multmodp(row[-1], one))
            _SHIFT_BYTES.append(row)
    return _SHIFT_BYTES


def _shift_of(length: int) -> int:
    """x^(8 * length) modulo the polynomial: what a CRC is multiplied by to skip length bytes
    (a product of one table entry per byte of ``length``)."""
    tables = _shift_tables()
    p = 0
    for j in range(4):
        k = (length >> (8 * j)) & 0xFF
        if k:
            p = tables[j][k] if not p else _multmodp(tables[j][k], p)
    return p or 1 << 31


class Piece:
    """Some text deflated on its own (sync-flushed), with what the gzip trailer needs."""

    __slots__ = ("crc", "deflated", "shift", "size")

    def __init__(self, text: bytes) -> None:
        packer = zlib.compressobj(1, zlib.DEFLATED, -15, 8)
        self.deflated = packer.compress(text) + packer.flush(zlib.Z_SYNC_FLUSH)
        self.crc = zlib.crc32(text)
        self.size = len(text)
        self.shift = _shift_of(len(text))


def gzip_of(pieces: Sequence[Piece], known: list[tuple[Piece, int, int]] | None = None) -> bytes:
    """One gzip member whose deflate stream is the pieces' in order. ``known`` holds the
    previous call's pieces with the CRC and size after each; the CRC of the pieces they share
    at the start is not combined anew, and ``known`` is updated for the next call."""
    crc = size = 0
    start = 0
    if known is not None:
        for start, (piece, after, total) in enumerate(known[: len(pieces)]):
            if pieces[start] is not piece:
                del known[start:]
                break
            crc, size = after, total
        else:
            start = min(len(known), len(pieces))
            del known[start:]
    for piece in pieces[start:]:
        crc = _multmodp(piece.shift, crc) ^ piece.crc  # zlib's crc32_combine
        size += piece.size
        if known is not None:
            known.append((piece, crc, size))
    parts = [_GZIP_HEAD, *(piece.deflated for piece in pieces), _DEFLATE_END]
    parts.append(struct.pack("<II", crc, size & 0xFFFFFFFF))
    return b"".join(parts)


class _Block:
    """Up to BLOCK_TARGETS targets' lines of one family, and their deflated piece once made."""

    __slots__ = ("lines", "piece", "version")

    def __init__(self) -> None:
        self.lines: dict[str, bytes] = {}  # target -> its lines of this family
        self.piece: Piece | None = None  # the joined lines deflated; None: changed since
        self.version = 0  # bumped at every change: a piece made meanwhile is stale

    def change(self) -> None:
        self.piece = None
        self.version += 1

    def text(self) -> bytes:
        return b"".join(self.lines.values())


class _Family:
    __slots__ = ("blocks", "head", "head_piece", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        declared = BY_NAME.get(name)
        if declared is None:
            kind, text = "gauge", f"{name} as measured by the probe."
        else:
            kind, text = declared.type, declared.help
        self.head = f"# HELP {name} {text}\n# TYPE {name} {kind}\n".encode()
        self.head_piece = Piece(self.head)
        self.blocks: list[_Block] = []

    def block(self, index: int) -> _Block:
        blocks = self.blocks
        while len(blocks) <= index:
            blocks.append(_Block())
        return blocks[index]


class MetricsRenderer:
    """Keeps each target's rendered lines, per family in blocks of targets, and each block's
    deflated piece; a scrape joins them and deflates only the blocks that changed since."""

    def __init__(self, store: Store) -> None:
        self._families: dict[str, _Family] = {}
        self._prefixes: dict[str, _Prefixes] = {}  # target -> its line heads
        # target -> family -> the block holding its lines there: the families it has lines in
        self._blocks_of: dict[str, dict[str, _Block]] = {}
        self._slot: dict[str, int] = {}  # target -> its block's index
        self._crcs: list[tuple[Piece, int, int]] = []  # the last scrape's, for gzip_of
        self._last_block = 0
        self._last_fill = 0  # targets given the last block so far
        # The catalogue's order, then any family a probe emits undeclared (a defect
        # tests/probes/test_catalogue.py catches; its series are still exposed).
        self._order: list[str] = [family.name for family in CATALOGUE]
        store.subscribe(self._on_record, self._on_remove)
        for state in store:
            if state.latest is not None:
                self._on_record(state, state.latest)

    def _family(self, name: str) -> _Family:
        family = self._families.get(name)
        if family is None:
            family = self._families[name] = _Family(name)
            if name not in BY_NAME:
                self._order.append(name)
        return family

    def _on_record(self, state: TargetState, observation: Observation) -> None:
        target = state.target
        name = target.name
        prefixes = self._prefixes.get(name)
        if prefixes is None or prefixes.target is not target:  # new, or reloaded
            prefixes = self._prefixes[name] = _Prefixes(target)
        slot = self._slot.get(name)
        if slot is None:
            # A new target goes last, as it would in one dict per family.
            if self._last_fill >= BLOCK_TARGETS:
                self._last_block += 1
                self._last_fill = 0
            slot = self._slot[name] = self._last_block
            self._last_fill += 1
        rendered = prefixes.render(observation)
        mine = self._blocks_of.get(name)
        if mine is None:
            mine = self._blocks_of[name] = {}
        for family_name, lines in rendered.items():
            block = mine.get(family_name)
            if block is None:
                family = self._families.get(family_name) or self._family(family_name)
                block = mine[family_name] = family.block(slot)
            kept = block.lines
            if kept.get(name) != lines:
                kept[name] = lines
                block.piece = None  # block.change(), inline: this runs per family per result
                block.version += 1
        if mine.keys() != rendered.keys():  # a family it had lines in has none now
            for family_name in [f for f in mine if f not in rendered]:
                self._drop(mine.pop(family_name), name)

    @staticmethod
    def _drop(block: _Block, name: str) -> None:
        if block.lines.pop(name, None) is not None:
            block.change()

    def _on_remove(self, name: str) -> None:
        self._prefixes.pop(name, None)
        self._slot.pop(name, None)
        for block in self._blocks_of.pop(name, {}).values():
            self._drop(block, name)

    def _sections(self) -> Iterator[tuple[_Family, list[_Block]]]:
        for name in self._order:
            family = self._families.get(name)
            if family is None:
                continue
            blocks = [block for block in family.blocks if block.lines]
            if blocks:
                yield family, blocks

    def render_probes(self) -> str:
        return self.render_probes_bytes().decode()

    def render_probes_bytes(self) -> bytes:
        parts: list[bytes] = []
        for family, blocks in self._sections():
            parts.append(family.head)
            for block in blocks:
                parts.extend(block.lines.values())
        return b"".join(parts)

    def _pieces(self) -> tuple[list[Piece | int], list[tuple[_Block, int, bytes]]]:
        """The scrape's pieces in order: a block's kept piece, or the index of that block in
        the second list (the block, its version, its text) when it changed since."""
        parts: list[Piece | int] = []
        stale: list[tuple[_Block, int, bytes]] = []
        for family, blocks in self._sections():
            parts.append(family.head_piece)
            for block in blocks:
                if block.piece is None:
                    parts.append(len(stale))
                    stale.append((block, block.version, block.text()))
                else:
                    parts.append(block.piece)
        return parts, stale

    def _finish(
        self,
        parts: list[Piece | int],
        stale: list[tuple[_Block, int, bytes]],
        made: list[Piece],
        tail: bytes,
    ) -> bytes:
        for (block, version, _), piece in zip(stale, made, strict=True):
            if block.version == version:  # unchanged while it was deflated
                block.piece = piece
        pieces = [part if isinstance(part, Piece) else made[part] for part in parts]
        if tail:
            pieces.append(Piece(tail))
        return gzip_of(pieces, self._crcs)

    def render_gzip_sync(self, tail: bytes = b"") -> bytes:
        """The probes' series, then ``tail``, gzipped; only the blocks changed since the last
        scrape are deflated anew."""
        parts, stale = self._pieces()
        return self._finish(parts, stale, [Piece(text) for _, _, text in stale], tail)

    async def render_gzip(self, tail: bytes = b"") -> bytes:
        """As render_gzip_sync, deflating in a thread when there is much to deflate (zlib
        lets go of the GIL)."""
        parts, stale = self._pieces()
        texts = [text for _, _, text in stale]
        if sum(map(len, texts)) <= _GZIP_INLINE:
            made = [Piece(text) for text in texts]
        else:
            made = await asyncio.to_thread(lambda: [Piece(text) for text in texts])
        return self._finish(parts, stale, made, tail)


class ServiceCollector(Collector):
    """netmon's own health, read at scrape time from the objects that keep it."""

    def __init__(self, read: Callable[[], Iterable[Metric]]) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        return self._read()


def service_registry(read: Callable[[], Iterable[Metric]]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(read))
    # process_resident_memory_bytes, process_open_fds, ...: what a soak and an operator watch.
    ProcessCollector(registry=registry)
    return registry


def render_service(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def render_service_bytes(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


def gauge(name: str, doc: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


def counter(name: str, doc: str, labels: Iterable[str] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=list(labels))
