"""Issue 13, "Also": the SNMP poll decoder fuzzed with hypothesis on what a hostile or broken
agent could answer (truncated, huge lengths, wrong types, deep nesting, garbage after the
message, oversized integers, huge OID sub-identifiers, bad msgSecurityParameters, ciphertext
that decrypts to garbage).

The property: decoding raises nothing but ``BerError`` (the session's ``protocol`` failure),
allocates in proportion to the bytes present, never to a claimed length, and never recurses;
and a real poll answered by a mutating agent on loopback fails as ``protocol`` (``timeout``
when the answer cannot be matched to the request) while the shared transport keeps serving a
good agent. Examples are derandomized and few for ``make test``; ``SNMP_FUZZ_EXAMPLES=N``
runs N per property by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitor.config import Target
from monitor.lab.inventory import SNMP_COMMUNITY
from monitor.lab.snmp import LabAgent, lab_users
from probes import PROBES
from probes.base import ProbeResult
from probes.context import ProbeContext
from probes.snmp import ber
from probes.snmp.ber import (
    COUNTER32,
    GET,
    INTEGER,
    OCTET_STRING,
    OID,
    REPORT,
    RESPONSE,
    SEQUENCE,
    BerError,
    Pdu,
    Value,
    decode_community_message,
    decode_oid,
    decode_varbinds,
    encode_int,
    encode_oid,
    encode_tlv,
    oid_tuple,
)
from probes.snmp.errors import SnmpProtocolError
from probes.snmp.session import BerSession, Credentials
from probes.snmp.transport import UdpTransport, peek_id
from probes.snmp.usm import (
    FLAG_AUTH,
    FLAG_PRIV,
    USM_STATS,
    UsmUser,
    decode_v3,
    encode_v3,
)
from tests.probes.snmp.agents import ROUTER

EXAMPLES = int(os.environ.get("SNMP_FUZZ_EXAMPLES", "0"))


def fuzz(default: int) -> settings:
    """Few derandomized examples in CI; SNMP_FUZZ_EXAMPLES for a long run by hand."""
    return settings(
        max_examples=EXAMPLES or default,
        derandomize=not EXAMPLES,
        deadline=None,  # a busy 2-core machine: the bounds below are counts and bytes
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )


USER = UsmUser(b"noc", "SHA", b"netmon-fuzz-auth", "AES", b"netmon-fuzz-priv")
ENGINE = b"\x80\x00\x1f\x88\x04fuzz-engine"
KEYS = USER.keys(ENGINE)
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"

# --------------------------------------------------------------------------- hostile bytes


def huge_length(tag: int, claimed: int, present: bytes) -> bytes:
    """A TLV announcing ``claimed`` content bytes with only ``present`` behind it."""
    raw = claimed.to_bytes(4, "big")
    return bytes((tag, 0x84)) + raw + present


def nested(depth: int, leaf: bytes = encode_tlv(0x05, b"")) -> bytes:
    out = leaf
    for _ in range(depth):
        out = encode_tlv(SEQUENCE, out)
    return out


def huge_oid(subid_bytes: int) -> bytes:
    """An OID TLV whose second sub-identifier has ``subid_bytes`` base-128 digits."""
    return encode_tlv(OID, b"\x2b" + b"\xff" * (subid_bytes - 1) + b"\x7f")


def community(pdu_tag: int, request_id: int, varbinds: bytes, version: int = 1) -> bytes:
    pdu = encode_tlv(pdu_tag, encode_int(request_id) + encode_int(0) + encode_int(0) + varbinds)
    return encode_tlv(SEQUENCE, encode_int(version) + encode_tlv(OCTET_STRING, b"public") + pdu)


def varbind(value: bytes, oid: bytes = encode_oid(SYS_UPTIME)) -> bytes:
    return encode_tlv(SEQUENCE, oid + value)


def v3_report(msg_id: int, *, boots: int = 1, time: int = 1, engine: bytes = ENGINE) -> bytes:
    """An unauthenticated usmStatsUnknownEngineIDs report (the discovery answer)."""
    return encode_v3(
        msg_id=msg_id,
        flags=0,
        engine_id=engine,
        boots=boots,
        time=time,
        user=b"",
        pdu=Pdu(REPORT, msg_id, 0, 0, [(USM_STATS["unknownEngineIDs"], Value(COUNTER32, 7))]),
    )


def v3_response(msg_id: int, **fields: Any) -> bytes:
    args: dict[str, Any] = {
        "msg_id": msg_id,
        "flags": FLAG_AUTH | FLAG_PRIV,
        "engine_id": ENGINE,
        "boots": 1,
        "time": 1,
        "user": b"noc",
        "pdu": Pdu(RESPONSE, msg_id, 0, 0, [(SYS_UPTIME, Value(0x43, 12345))]),
        "keys": KEYS,
        "salt": 1,
    } | fields
    return encode_v3(**args)


# Pinned findings and hostile classes; each must give BerError from every decoder.
HOSTILE: dict[str, bytes] = {
    # finding: a 60 KB sub-identifier made decode_oid raise ValueError (int→str digit limit)
    # and cost quadratic time; sub-identifiers are 32-bit (RFC 2578).
    "oid-subid-60k": community(RESPONSE, 7, encode_tlv(SEQUENCE, varbind(huge_oid(60000)))),
    "oid-subid-5k": community(RESPONSE, 7, encode_tlv(SEQUENCE, varbind(huge_oid(5000)))),
    "oid-value-subid-33bit": community(
        RESPONSE, 7, encode_tlv(SEQUENCE, varbind(encode_tlv(OID, b"\x2b\x90\x80\x80\x80\x00")))
    ),
    "oid-129-subids": community(
        RESPONSE, 7, encode_tlv(SEQUENCE, varbind(encode_tlv(OID, b"\x2b" + b"\x01" * 128)))
    ),
    "length-2**31": huge_length(SEQUENCE, 2**31, b"\x02\x01\x01"),
    "length-2**32-1-inner": community(RESPONSE, 7, huge_length(SEQUENCE, 2**32 - 1, b"\x30\x00")),
    "indefinite-length": b"\x30\x80\x02\x01\x01\x00\x00",
    "truncated": community(RESPONSE, 7, encode_tlv(SEQUENCE, b""))[:-3],
    "garbage-after": community(RESPONSE, 7, encode_tlv(SEQUENCE, b"")) + b"\x00",
    "integer-10-bytes": community(
        RESPONSE, 7, encode_tlv(SEQUENCE, varbind(b"\x02\x0a" + b"\xff" * 10))
    ),
    "integer-empty": community(RESPONSE, 7, encode_tlv(SEQUENCE, varbind(b"\x41\x00"))),
    "unknown-value-tag": community(RESPONSE, 7, encode_tlv(SEQUENCE, varbind(b"\x99\x00"))),
    "nested-10000": community(RESPONSE, 7, encode_tlv(SEQUENCE, varbind(nested(10000)))),
    "nested-varbind-list": community(RESPONSE, 7, nested(5000)),
    "multibyte-tag": b"\x3f\x81\x00",
    "version-9-bytes": encode_tlv(SEQUENCE, b"\x02\x09" + b"\x7f" + b"\xff" * 8),
    "v3-boots-negative": v3_report(7, boots=-1),
    "v3-boots-2**40": v3_report(7, boots=2**40),
    "v3-time-negative": v3_report(7, time=-5),
    "v3-engine-id-1000": v3_report(7, engine=b"\x80" * 1000),
    "v3-params-garbage-after": b"",  # filled below
    "v3-params-not-sequence": b"",
}


def _v3_with_params(params: bytes) -> bytes:
    """A discovery report whose msgSecurityParameters content is ``params``."""
    good = decode_v3(v3_report(7))
    body = (
        encode_int(3)
        + encode_tlv(
            SEQUENCE,
            encode_int(7) + encode_int(65507) + encode_tlv(OCTET_STRING, b"\x00") + encode_int(3),
        )
        + encode_tlv(OCTET_STRING, params)
    )
    scoped = encode_tlv(
        SEQUENCE,
        encode_tlv(OCTET_STRING, good.context_engine_id)
        + encode_tlv(OCTET_STRING, b"")
        + encode_tlv(
            REPORT, encode_int(7) + encode_int(0) + encode_int(0) + encode_tlv(SEQUENCE, b"")
        ),
    )
    return encode_tlv(SEQUENCE, body + scoped)


def _usm_params(*, trailing: bytes = b"") -> bytes:
    inner = (
        encode_tlv(OCTET_STRING, ENGINE)
        + encode_int(1)
        + encode_int(1)
        + encode_tlv(OCTET_STRING, b"")
        + encode_tlv(OCTET_STRING, b"")
        + encode_tlv(OCTET_STRING, b"")
    )
    return encode_tlv(SEQUENCE, inner) + trailing


HOSTILE["v3-params-garbage-after"] = _v3_with_params(_usm_params(trailing=b"\x04\x00\x04\x00"))
HOSTILE["v3-params-not-sequence"] = _v3_with_params(encode_tlv(OCTET_STRING, b"x"))


def decode_all(data: bytes) -> None:
    """Every decoder of an answer's path; each may only raise BerError."""
    for decode in (peek_id, decode_community_message, decode_v3):
        with contextlib.suppress(BerError):
            decode(data)
    try:
        message = decode_v3(data)
        message.open(KEYS)
    except BerError:
        pass


def assert_only_ber_error(data: bytes) -> None:
    try:
        decode_all(data)
    except BerError:  # pragma: no cover - decode_all swallows it
        pass
    except Exception as exc:
        raise AssertionError(f"{type(exc).__name__}: {exc} for {data[:64].hex()}...") from exc


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_answers_are_ber_errors(name: str) -> None:
    data = HOSTILE[name]
    assert_only_ber_error(data)
    with pytest.raises(BerError):
        if data[2:3] == b"\x03" or b"\x02\x01\x03" in data[:8]:
            message = decode_v3(data)
            message.open(KEYS)
        else:
            decode_community_message(data)


def test_32bit_sub_identifiers_still_decode() -> None:
    """The bound is RFC 2578's: a sub-identifier of 2**32-1 (5 bytes) is fine, 2**32 is not."""
    assert decode_oid(b"\x2b\x8f\xff\xff\xff\x7f") == f"1.3.{2**32 - 1}"
    with pytest.raises(BerError):
        decode_oid(b"\x2b\x90\x80\x80\x80\x00")
    assert oid_tuple(f"1.3.{2**32 - 1}") == (1, 3, 2**32 - 1)


@pytest.mark.parametrize(
    "name", ["length-2**31", "length-2**32-1-inner", "oid-subid-60k", "nested-10000"]
)
def test_allocation_follows_the_bytes_present(name: str) -> None:
    """A claimed length of 2**31 costs nothing; any answer costs a few times its own size."""
    data = HOSTILE[name]
    decode_all(data)  # warm the caches and imports
    tracemalloc.start()
    try:
        decode_all(data)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * len(data) + 64 * 1024, f"{peak} bytes for a {len(data)}-byte answer"


def test_no_recursion_on_deep_nesting() -> None:
    """The decoder walks flat: 10,000 nested SEQUENCEs under a tiny recursion limit."""
    data = HOSTILE["nested-10000"]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(120)  # pytest's own frames need some
    try:
        assert_only_ber_error(data)
    finally:
        sys.setrecursionlimit(limit)


def test_oid_caches_keep_only_short_oids() -> None:
    """A hostile agent sending distinct long OIDs must not fill the OID caches (65,536 entries
    each) with a kilobyte or more apiece: only short OIDs are cached."""
    decode_cache, tuple_cache = ber._decode_oid_cached, ber._oid_tuple_cached
    decode_cache.cache_clear()
    tuple_cache.cache_clear()
    long_oid = b"\x2b" + b"\x8f\xff\xff\xff\x7f" * 120
    assert decode_oid(long_oid).endswith(f".{2**32 - 1}")
    assert oid_tuple(".".join(["1", "3"] + [str(2**32 - 1)] * 120))[-1] == 2**32 - 1
    assert decode_cache.cache_info().currsize == 0
    assert tuple_cache.cache_info().currsize == 0
    assert decode_oid(encode_oid(SYS_UPTIME)[2:]) == SYS_UPTIME
    assert oid_tuple(SYS_UPTIME) == (1, 3, 6, 1, 2, 1, 1, 3, 0)
    assert decode_cache.cache_info().currsize == 1
    assert tuple_cache.cache_info().currsize == 1


# --------------------------------------------------------------------------- properties

TAGS = st.sampled_from(
    [INTEGER, OCTET_STRING, 0x05, OID, SEQUENCE, 0x40, COUNTER32, 0x42, 0x43, 0x44, 0x46,
     0x80, 0x81, 0x82, GET, RESPONSE, REPORT, 0xA4, 0xA5, 0x1F, 0x3F, 0x99]
)  # fmt: skip


def _length_bytes(draw: st.DrawFn, real: int) -> bytes:
    """The real length, or a lie: long forms, 2**31, indefinite, too many length octets."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return b"\x80"
    if kind == 1:
        return bytes((0x84,)) + draw(st.sampled_from([2**31, 2**32 - 1, real + 1])).to_bytes(
            4, "big"
        )
    if kind == 2:
        return bytes((0x85,)) + real.to_bytes(5, "big")
    if kind == 3 and real < 256:
        return b"\x81" + bytes((real,))
    if real < 0x80:
        return bytes((real,))
    raw = real.to_bytes((real.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


@st.composite
def tlv_trees(draw: st.DrawFn, depth: int = 0) -> bytes:
    """TLVs, mostly well formed, sometimes lying about their length, nested up to 6 deep."""
    tag = draw(TAGS)
    if depth < 6 and draw(st.booleans()):
        content = b"".join(draw(st.lists(tlv_trees(depth + 1), max_size=3)))
    else:
        content = draw(
            st.one_of(
                st.binary(max_size=12),
                st.integers(-(2**80), 2**80).map(lambda n: encode_int(n)[2:]),
                st.sampled_from([b"\x2b\x06\x01", b"\x2b" + b"\xff" * 8 + b"\x7f", b"\x80"]),
            )
        )
    if draw(st.integers(0, 4)) == 0:
        return bytes((tag,)) + _length_bytes(draw, len(content)) + content
    return encode_tlv(tag, content)


@st.composite
def answers(draw: st.DrawFn) -> bytes:
    """A v1/v2c or v3 answer built around fuzzed parts, then perhaps mutated as bytes."""
    kind = draw(st.sampled_from(["community", "v3-clear", "v3-priv", "tree"]))
    if kind == "community":
        varbinds = encode_tlv(SEQUENCE, b"".join(draw(st.lists(tlv_trees(), max_size=4))))
        data = community(draw(st.sampled_from([RESPONSE, REPORT, GET, 0xA4])), 7, varbinds,
                         draw(st.sampled_from([0, 1, 3, -1, 2**70])))  # fmt: skip
    elif kind == "v3-clear":
        data = v3_report(
            7,
            boots=draw(st.integers(-(2**40), 2**40)),
            time=draw(st.integers(-(2**40), 2**40)),
            engine=draw(st.binary(max_size=40)),
        )
    elif kind == "v3-priv":
        data = v3_response(7, salt=draw(st.integers(0, 2**64 - 1)))
    else:
        data = draw(tlv_trees())
    return draw(mutated(data))


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """Byte-level damage: truncation, garbage after, flipped, inserted or deleted bytes."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.integers(0, 4))
        if op == 0 and buf:
            del buf[draw(st.integers(0, len(buf) - 1)) :]
        elif op == 1:
            buf += draw(st.binary(min_size=1, max_size=8))
        elif op == 2 and buf:
            buf[draw(st.integers(0, len(buf) - 1))] = draw(st.integers(0, 255))
        elif op == 3:
            at = draw(st.integers(0, len(buf)))
            buf[at:at] = draw(st.binary(min_size=1, max_size=6))
        elif op == 4 and buf:
            at = draw(st.integers(0, len(buf) - 1))
            del buf[at : at + draw(st.integers(1, 6))]
    return bytes(buf)


@fuzz(300)
@given(st.binary(max_size=300))
@example(b"\xa0\x00")  # the trap receiver's finding 12, here for the poll side
@example(HOSTILE["oid-subid-60k"])
@example(HOSTILE["v3-boots-negative"])
def test_random_bytes_raise_only_ber_error(data: bytes) -> None:
    assert_only_ber_error(data)


@fuzz(400)
@given(answers())
@example(HOSTILE["oid-subid-5k"])
@example(HOSTILE["v3-params-garbage-after"])
def test_structured_answers_raise_only_ber_error(data: bytes) -> None:
    assert_only_ber_error(data)


@fuzz(200)
@given(
    st.binary(max_size=400), st.binary(max_size=10), st.sampled_from(["DES", "AES", "AES-256-C"])
)
def test_ciphertext_that_decrypts_to_garbage(ciphertext: bytes, params: bytes, priv: str) -> None:
    """An authPriv answer whose encrypted scoped PDU is anything: only BerError on open."""
    user = dataclasses.replace(USER, priv_protocol=priv)
    message = decode_v3(v3_response(7, keys=user.keys(ENGINE)))
    message.encrypted, message.priv_params = ciphertext, params
    with contextlib.suppress(BerError):
        message.open(user.keys(ENGINE))


@fuzz(200)
@given(st.lists(tlv_trees(), max_size=6).map(b"".join))
def test_varbind_lists_raise_only_ber_error(data: bytes) -> None:
    with contextlib.suppress(BerError):
        decode_varbinds(data)


# --------------------------------------------------------------------------- the whole path

Mutation = Callable[[bytes, bytes], bytes | None]


class MutatingAgent(LabAgent):
    """A lab agent whose answers pass through ``mutate(request, answer)`` first; v3 discovery
    answers too unless ``spare_discovery``."""

    mutate: Mutation | None = None
    spare_discovery = False

    def _answer(self, data: bytes) -> bytes | None:
        answer = super()._answer(data)
        if answer is None or self.mutate is None:
            return answer
        if self.spare_discovery and b"\x04\x00\x04\x00\x04\x00" in data[:80]:
            return answer  # an empty user, auth and priv: the engine ID discovery
        return self.mutate(data, answer)


@dataclasses.dataclass
class Lab:
    runner: asyncio.Runner
    ctx: ProbeContext
    hostile: MutatingAgent
    good: LabAgent
    seen: dict[str, int]

    def poll(self, target: Target) -> ProbeResult:
        result: ProbeResult = self.runner.run(PROBES["snmp"](target, self.ctx))
        return result


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    runner = asyncio.Runner()
    hostile = MutatingAgent(
        dataclasses.replace(ROUTER, host="127.0.0.113", port=0), trap_address=None
    )
    good = LabAgent(dataclasses.replace(ROUTER, host="127.0.0.114", port=0), trap_address=None)
    ctx = ProbeContext()
    runner.run(hostile.start())
    runner.run(good.start())
    try:
        yield Lab(runner, ctx, hostile, good, {})
    finally:
        runner.run(hostile.close())
        runner.run(good.close())
        runner.run(ctx.aclose())
        runner.close()


def lab_target(agent: LabAgent, name: str, version: str = "2c") -> Target:
    options: dict[str, Any] = {"port": agent.address[1], "timeout": "250ms", "retries": 0}
    if version == "3":
        user = lab_users()[0]
        options |= {
            "version": "3",
            "user": user.name.decode(),
            "level": "authPriv",
            "auth_protocol": user.auth_protocol,
            "auth_key": (user.auth_password or b"").decode(),
            "priv_protocol": user.priv_protocol,
            "priv_key": (user.priv_password or b"").decode(),
        }
    else:
        options |= {"community": SNMP_COMMUNITY, "version": version}
    return Target.model_validate(
        {"name": name, "kind": "snmp", "host": agent.address[0], "timeout": "3s", "snmp": options}
    )


@st.composite
def answer_mutations(draw: st.DrawFn) -> tuple[str, Mutation]:
    """What the hostile agent does to its real answer; every one breaks it."""
    kind = draw(
        st.sampled_from(["truncate", "garbage-after", "huge-length", "bad-varbind", "wrong-pdu"])
    )
    cut = draw(st.integers(0, 10_000))
    tail = draw(st.binary(min_size=1, max_size=16))
    value = draw(
        st.sampled_from(
            [
                b"\x02\x0a" + b"\x01" * 10,  # an INTEGER of 10 bytes
                b"\x99\x00",  # an unknown value tag
                nested(3000),  # deep nesting where a value belongs
                b"\x41\x00",  # an empty Counter32
                huge_length(OCTET_STRING, 2**31, b"xx"),
            ]
        )
    )
    oid = draw(st.sampled_from([encode_oid(SYS_UPTIME), huge_oid(3), huge_oid(6000)]))

    def mutate(request: bytes, answer: bytes) -> bytes | None:
        if kind == "truncate":
            return answer[: 1 + cut % (len(answer) - 1)]  # asyncio sends no empty datagram
        if kind == "garbage-after":
            return answer + tail
        if kind == "huge-length":
            return huge_length(SEQUENCE, 2**31, answer[2:])
        request_id = peek_id(request)
        if kind == "bad-varbind":
            return community(RESPONSE, request_id, encode_tlv(SEQUENCE, varbind(value, oid)))
        return community(GET, request_id, encode_tlv(SEQUENCE, b""))

    return kind, mutate


def _poll_both(lab: Lab, target: Target) -> ProbeResult:
    result = lab.poll(target)
    good = lab.poll(lab_target(lab.good, "good-neighbour"))
    assert good.success, f"the transport stopped serving another agent: {good.reason} {good.detail}"
    return result


@settings(parent=fuzz(25))
@given(answer_mutations())
def test_a_poll_of_a_hostile_v2c_agent_fails_as_protocol(
    lab: Lab, mutation: tuple[str, Mutation]
) -> None:
    kind, lab.hostile.mutate = mutation
    result = _poll_both(lab, lab_target(lab.hostile, "hostile-v2c"))
    assert not result.success
    assert result.reason == "protocol", (kind, result.reason, result.detail)


V2C_PINNED: dict[str, bytes] = {
    # finding: an OID past 4,300 decimal digits escaped the probe as ValueError
    "huge-oid-name": varbind(b"\x05\x00", huge_oid(6000)),
    "huge-oid-value": varbind(huge_oid(6000)),
    "oid-subid-33-bits": varbind(b"\x05\x00", encode_tlv(OID, b"\x2b\x90\x80\x80\x80\x00")),
    "nested-3000": varbind(nested(3000)),
    "integer-10-bytes": varbind(b"\x02\x0a" + b"\x01" * 10),
}


@pytest.mark.parametrize("kind", sorted(V2C_PINNED))
def test_a_poll_of_a_hostile_v2c_agent_pinned(lab: Lab, kind: str) -> None:
    lab.hostile.mutate = lambda req, ans: community(
        RESPONSE, peek_id(req), encode_tlv(SEQUENCE, V2C_PINNED[kind])
    )
    result = _poll_both(lab, lab_target(lab.hostile, "hostile-v2c-pinned"))
    assert not result.success
    assert result.reason == "protocol", (kind, result.reason, result.detail)


V3_MUTATIONS: dict[str, Mutation] = {
    # the discovery answer: msgSecurityParameters the session cannot use
    "boots-negative": lambda req, ans: v3_report(peek_id(req), boots=-1),
    "boots-2**40": lambda req, ans: v3_report(peek_id(req), boots=2**40),
    "time-negative": lambda req, ans: v3_report(peek_id(req), time=-1),
    "engine-id-1000": lambda req, ans: v3_report(peek_id(req), engine=b"\x80" * 1000),
    "params-garbage-after": lambda req, ans: _v3_params_damaged(req),
    "truncate": lambda req, ans: ans[:-1],
    "garbage-after": lambda req, ans: ans + b"\x00",
}


def _v3_params_damaged(request: bytes) -> bytes:
    data = HOSTILE["v3-params-garbage-after"]
    return data.replace(
        encode_int(7) + encode_int(65507), encode_int(peek_id(request)) + encode_int(65507), 1
    )


@pytest.mark.parametrize("kind", sorted(V3_MUTATIONS))
def test_a_poll_of_a_hostile_v3_agent_fails_as_protocol(lab: Lab, kind: str) -> None:
    lab.hostile.mutate = V3_MUTATIONS[kind]
    result = _poll_both(lab, lab_target(lab.hostile, "hostile-v3-" + kind.replace("**", "-"), "3"))
    assert not result.success
    assert result.reason == "protocol", (kind, result.reason, result.detail)


@pytest.mark.parametrize("priv", ["garbage", "flipped"])
def test_an_encrypted_answer_that_decrypts_to_garbage(lab: Lab, priv: str) -> None:
    """Discovery answered rightly, then the authPriv response's ciphertext is garbage: the MAC
    fails (the agent has no keys to forge it), a refusal in words, never a traceback."""

    def damage(request: bytes, answer: bytes) -> bytes:
        message = decode_v3(answer)
        assert message.encrypted is not None
        start = answer.rindex(message.encrypted)
        junk = (
            os.urandom(len(message.encrypted))
            if priv == "garbage"
            else bytes(b ^ 0x55 for b in message.encrypted)
        )
        return answer[:start] + junk

    lab.hostile.mutate, lab.hostile.spare_discovery = damage, True
    try:
        result = _poll_both(lab, lab_target(lab.hostile, f"hostile-v3-priv-{priv}", "3"))
    finally:
        lab.hostile.spare_discovery = False
    assert not result.success
    assert result.reason == "snmp_auth", (result.reason, result.detail)


def test_an_answer_with_another_request_id_times_out(lab: Lab) -> None:
    """Not matched to the request: counted and dropped, the poll times out."""
    lab.hostile.mutate = lambda req, ans: community(
        RESPONSE, peek_id(req) ^ 1, encode_tlv(SEQUENCE, b"")
    )
    result = _poll_both(lab, lab_target(lab.hostile, "hostile-wrong-id"))
    assert not result.success
    assert result.reason == "timeout", (result.reason, result.detail)


def test_session_never_raises_but_snmp_errors() -> None:
    """The session itself, under the probe: the v3 discovery answer with boots -1 must be an
    SnmpProtocolError (it was an OverflowError from the next request's encryption)."""

    async def main() -> None:
        agent = MutatingAgent(
            dataclasses.replace(ROUTER, host="127.0.0.115", port=0), trap_address=None
        )
        agent.mutate = V3_MUTATIONS["boots-negative"]
        await agent.start()
        transport = UdpTransport()
        try:
            user = lab_users()[0]
            session = BerSession(
                transport, agent.address, Credentials("3", user=user), timeout=0.25, retries=0
            )
            with pytest.raises(SnmpProtocolError):
                await session.get([SYS_UPTIME])
        finally:
            await transport.aclose()
            await agent.close()

    asyncio.run(main())
