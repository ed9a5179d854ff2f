"""What people read (issue 12, points 3 to 5): notifications made by the real alert engine
(tests/support/messages.py: titles, [names], a phase, ``[server] external_url``, a FakeClock at
08:03 in Ha Noi), rendered as each receiver renders them, in one language each.

Exact texts in both languages; no English word in the Vietnamese; the evidence worded from the
probe's facts (the echoes, the forbidden words found); resolved with the outage's length; the
link to the target's own page; e-mail headers that no name or label can break."""

from __future__ import annotations

import email
import email.policy
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from alerts.model import AlertSnapshot, Notification
from alerts.notify.base import NotifyContext
from alerts.notify.email import build_message
from alerts.notify.telegram import message as telegram
from alerts.notify.text import build, plain, subject
from alerts.notify.webhook import webhook_payload
from alerts.settings import EmailReceiver
from monitor.config import SettingsError, load_settings
from tests.core.test_i18n import ENGLISH
from tests.support.messages import EXTERNAL, RUNBOOK, ZONE, Feed, defaced, feed, icmp, settings_doc

URL = f"{EXTERNAL}/targets/venue-viettel-uplink"


def receiver(language: str) -> EmailReceiver:
    return EmailReceiver.model_validate(
        {
            "type": "email",
            "host": "127.0.0.1",
            "from": "netmon@daklak.lab",
            "to": ["truc-ca@daklak.lab"],
            "language": language,
        }
    )


async def _down_and_up(f: Feed) -> tuple[Notification, Notification]:
    f.result("venue-viettel-uplink", icmp(5, 5), at=0)
    f.result("venue-viettel-uplink", icmp(5, 0), at=10)
    down = f.notification("TargetDown", "venue-viettel-uplink")
    f.result("venue-viettel-uplink", icmp(5, 5), at=10 + 252)  # 4 min 12 s later
    up = f.notification("TargetDown", "venue-viettel-uplink")
    return down, up


TELEGRAM_DOWN_VI = f"""\
🟠 <b>Cảnh báo · Đường truyền Viettel - Hội trường mất kết nối · từ 08:03 14/10/2025</b>
Bắt đầu: 08:03:10 14/10/2025 (UTC+07:00)
Nhà mạng: Viettel
Địa điểm: Hội trường Tỉnh ủy
Nhóm: Nhà mạng và đường truyền
Bằng chứng: không phản hồi (quá thời gian chờ); 0/5 gói tin được trả lời
Giai đoạn: Đại hội Đảng bộ tỉnh lần thứ XVIII

Kiểm tra nguồn điện, đường truyền và thiết bị cấp trên của đối tượng.

Mã cảnh báo: TargetDown · venue-viettel-uplink
Hướng dẫn xử lý: {RUNBOOK}
Xem trên trang giám sát: {URL}"""

TELEGRAM_DOWN_EN = f"""\
🟠 <b>Warning · Đường truyền Viettel - Hội trường is unreachable · since 08:03 14/10/2025</b>
Started: 08:03:10 14/10/2025 (UTC+07:00)
Carrier: Viettel
Site: Party congress hall
Group: Carriers and links
Evidence: no answer (timed out); 0/5 echoes answered
Phase: Đại hội Đảng bộ tỉnh lần thứ XVIII

Check the power, the link and the devices upstream of it.

Alert code: TargetDown · venue-viettel-uplink
Runbook: {RUNBOOK}
On the status page: {URL}"""

EMAIL_UP_VI = f"""\
Đã khôi phục · Đường truyền Viettel - Hội trường · sau 4 phút 12 giây

Sự cố: Đường truyền Viettel - Hội trường mất kết nối
Bắt đầu: 08:03:10 14/10/2025
Kết thúc: 08:07:22 14/10/2025 (UTC+07:00)
Thời gian sự cố: 4 phút 12 giây
Nhà mạng: Viettel
Địa điểm: Hội trường Tỉnh ủy
Nhóm: Nhà mạng và đường truyền
Giai đoạn: Đại hội Đảng bộ tỉnh lần thứ XVIII

Hướng dẫn xử lý: {RUNBOOK}
Xem trên trang giám sát: {URL}
Mã cảnh báo: TargetDown · venue-viettel-uplink
"""


async def test_telegram_in_each_language_with_the_facts_first(tmp_path: Path) -> None:
    async with feed(tmp_path) as f:
        down, _ = await _down_and_up(f)
        assert telegram(down, f.engine.ctx, "vi") == TELEGRAM_DOWN_VI
        assert telegram(down, f.engine.ctx, "en") == TELEGRAM_DOWN_EN


async def test_resolved_says_restored_and_how_long(tmp_path: Path) -> None:
    async with feed(tmp_path) as f:
        _, up = await _down_and_up(f)
        vi = build_message(up, receiver("vi"), f.engine.ctx)
        en = build_message(up, receiver("en"), f.engine.ctx)
    assert vi["Subject"] == "[Đã khôi phục] Đường truyền Viettel - Hội trường · sau 4 phút 12 giây"
    assert en["Subject"] == "[Resolved] Đường truyền Viettel - Hội trường · after 4 min 12 s"
    text = vi.get_body(("plain",))
    assert text is not None and text.get_content() == EMAIL_UP_VI
    assert "mất kết nối ·" not in str(vi["Subject"])  # not the firing summary again
    english = en.get_body(("plain",))
    assert english is not None and "Outage lasted: 4 min 12 s" in english.get_content()


def _vietnamese_leaks(text: str) -> list[str]:
    """English words of tests/core/test_i18n.py's list in a Vietnamese message, once the
    URLs and the alert code (rule and slug, for engineers) are taken out."""
    text = re.sub(r"https?://\S+|«[^»]*»", " ", text)  # links, and quotes of a page
    text = "\n".join(line for line in text.splitlines() if not line.startswith("Mã cảnh báo"))
    return [w for w in re.findall(r"[^\W\d_]+", text.lower()) if w in ENGLISH]


async def test_no_english_in_the_vietnamese_messages(tmp_path: Path) -> None:
    async with feed(tmp_path) as f:
        down, up = await _down_and_up(f)
        f.result("bao-dak-lak", defaced(), at=300)
        page = f.notification("PageDefaced", "bao-dak-lak")
        texts = []
        for n in (down, up, page):
            texts.append(telegram(n, f.engine.ctx, "vi"))
            texts.append(plain(build(n, "vi", ZONE, f.engine.ctx.names)))
        english = plain(build(down, "en", ZONE, f.engine.ctx.names))
    for text in texts:
        assert _vietnamese_leaks(text) == [], text
    assert "echoes" not in "".join(texts) and "warning" not in "".join(texts)
    # The check can fail: the same facts in English are caught.
    assert _vietnamese_leaks(english)


async def test_a_defaced_page_quotes_the_words_found(tmp_path: Path) -> None:
    async with feed(tmp_path) as f:
        f.result("bao-dak-lak", defaced(), at=2)
        page = f.notification("PageDefaced", "bao-dak-lak")
        vi = build(page, "vi", ZONE, f.engine.ctx.names)
        en = build(page, "en", ZONE, f.engine.ctx.names)
    assert vi.head == (
        "Nghiêm trọng · Báo Đắk Lắk điện tử có dấu hiệu bị thay đổi giao diện (deface)"
        " · từ 08:03 14/10/2025"
    )
    assert en.head == "Critical · Dak Lak e-newspaper looks defaced · since 08:03 14/10/2025"
    assert dict(vi.facts)["Bằng chứng"] == (
        "tìm thấy nội dung bị cấm: «Hacked by»; "
        "trích đoạn trang: «Hacked by Anonymous Team - greetz to all»"
    )
    assert dict(en.facts)["Evidence"] == (
        'forbidden text found: "Hacked by"; on the page: "Hacked by Anonymous Team - greetz to all"'
    )
    # Not the required-text sentence of the probe's English detail (issue 12).
    assert "required" not in plain(en) and "missing" not in plain(en)


async def test_the_link_is_the_targets_page_under_external_url(tmp_path: Path) -> None:
    async with feed(tmp_path) as f:
        down, _ = await _down_and_up(f)
        assert down.alert.generator_url == URL
        payload = webhook_payload(down, "noc", f.engine.ctx.external_url, "en", f.engine.ctx.names)
    (alert,) = payload["alerts"]
    assert alert["generatorURL"] == URL
    assert payload["externalURL"] == EXTERNAL + "/"
    # Labels stay slugs; the annotations speak the receiver's language, both kept beside.
    assert alert["labels"]["target"] == "venue-viettel-uplink"
    assert alert["labels"]["carrier"] == "viettel"
    annotations = alert["annotations"]
    assert annotations["title"] == "Đường truyền Viettel - Hội trường"
    assert annotations["summary"] == "Đường truyền Viettel - Hội trường is unreachable"
    assert annotations["summary_vi"] == "Đường truyền Viettel - Hội trường mất kết nối"
    assert annotations["evidence"] == "no answer (timed out); 0/5 echoes answered"
    assert annotations["description"] == annotations["description_en"]


async def test_an_email_has_a_text_and_an_html_part_in_one_language(tmp_path: Path) -> None:
    async with feed(tmp_path) as f:
        down, _ = await _down_and_up(f)
        msg = build_message(down, receiver("vi"), f.engine.ctx)
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["Content-Language"] == "vi"
    assert msg["Subject"] == (
        "[Cảnh báo] Đường truyền Viettel - Hội trường mất kết nối · từ 08:03 14/10/2025"
    )
    text_part, html_part = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text_part is not None and html_part is not None
    text, page = text_part.get_content(), html_part.get_content()
    assert text.startswith(
        "Cảnh báo · Đường truyền Viettel - Hội trường mất kết nối · từ 08:03 14/10/2025\n"
    )
    assert "Warning" not in text and "Carrier" not in text  # one language, not two
    assert '<html lang="vi">' in page and f'href="{URL}"' in page
    assert ">Nhà mạng</th><td" in page and "0/5 gói tin được trả lời" in page


def _snapshot(**labels: str) -> AlertSnapshot:
    return AlertSnapshot(
        key="k",
        rule="InterfaceDown",
        target="olt-ea-kar",
        status="firing",
        labels={"alertname": "InterfaceDown", "severity": "warning", "phase": "none", **labels},
        annotations={
            "summary_vi": f"olt-ea-kar: cổng {labels.get('ifName', '')} mất kết nối",
            "summary_en": f"olt-ea-kar: interface {labels.get('ifName', '')} is down",
        },
        starts_at=1_760_400_000.0,
        ends_at=None,
        value=2.0,
        generator_url="http://127.0.0.1:9108/targets/olt-ea-kar",
    )


@pytest.mark.parametrize("language", ["vi", "en"])
def test_no_header_can_be_forged_through_a_label(language: str) -> None:
    """An agent's ifName or ifAlias is anyone's text: CR/LF in it must not make a header, and
    markup in it is escaped in the HTML part."""
    poison = "Gi0/1\r\nBcc: ke-gian@evil.example\r\n\r\n<script>alert(1)</script>\x00\x85\u2028"
    alert = _snapshot(ifName=poison, ifAlias="uplink\nTo: x@evil.example")
    n = Notification(uuid.uuid4().hex, "truc-ca", "firing", alert, alert.starts_at)
    ctx = NotifyContext(zone=ZONE, language="vi", external_url="")
    wire = build_message(n, receiver(language), ctx).as_bytes()
    parsed: Any = email.message_from_bytes(wire, policy=email.policy.default)
    assert parsed["Bcc"] is None and parsed["To"] == "truc-ca@daklak.lab"
    assert "ke-gian@evil.example" in str(parsed["Subject"])  # kept as words
    assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029]", str(parsed["Subject"]))
    html_part = parsed.get_body(("html",))
    assert "<script>" not in html_part.get_content()
    assert "&lt;script&gt;" in html_part.get_content()


async def test_a_long_vietnamese_subject_keeps_its_spaces_on_the_wire(tmp_path: Path) -> None:
    """Python 3.11's folder lost the space between two encoded words ("Truyềnthông")."""
    doc = settings_doc(tmp_path / "state")
    doc["targets"][0]["title"] = "Đường truyền Viettel - Hội trường Tỉnh ủy, kênh dự phòng số 2"
    async with feed(tmp_path, doc) as f:
        down, _ = await _down_and_up(f)
        msg = build_message(down, receiver("vi"), f.engine.ctx)
    wire = msg.as_bytes()
    subject_lines = wire.split(b"\nFrom:", 1)[0].split(b"\n")
    assert len(subject_lines) > 1 and all(len(line) <= 78 for line in subject_lines)
    parsed: Any = email.message_from_bytes(wire, policy=email.policy.default)
    assert str(parsed["Subject"]) == (
        "[Cảnh báo] Đường truyền Viettel - Hội trường Tỉnh ủy, kênh dự phòng số 2 mất kết nối"
        " · từ 08:03 14/10/2025"
    )


def test_a_title_with_a_line_break_is_refused_at_load(tmp_path: Path) -> None:
    doc = settings_doc(tmp_path / "state")
    doc["targets"][0]["title"] = "Đường truyền\r\nBcc: ke-gian@evil.example"
    doc["names"]["carrier"]["viettel"] = {"vi": "Viettel\n"}
    import tomli_w

    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(doc))
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    got = [str(i) for i in info.value.issues]
    assert any(g.startswith("targets[0].title") and "line breaks" in g for g in got), got
    assert any(g.startswith("names.carrier.viettel") and "line breaks" in g for g in got), got


async def test_the_receivers_language_defaults_to_the_servers(tmp_path: Path) -> None:
    assert receiver("en").language == "en"
    unset = EmailReceiver.model_validate(
        {"type": "email", "host": "h", "from": "a@b.vn", "to": ["c@d.vn"]}
    )
    assert unset.language is None
    async with feed(tmp_path) as f:
        down, _ = await _down_and_up(f)
        msg = build_message(down, unset, f.engine.ctx)  # [server] language: vi
    assert str(msg["Subject"]).startswith("[Cảnh báo] ")


async def test_an_alert_fired_by_a_trap_says_which_trap(tmp_path: Path) -> None:
    """InterfaceDown fired by linkDown, before any poll: the evidence names the trap, and the
    circuit (ifAlias) is shown."""
    from monitor.runtime.store import TargetEvent

    async with feed(tmp_path) as f:
        labels = (("ifIndex", "1"), ("ifName", "ge-0/0/0"), ("ifAlias", "Uplink Viettel - kênh 1"))
        f.clock.now = 5
        f.store.publish(
            TargetEvent("viettel-edge", "snmp_trap", "linkDown", f.clock.time(), labels, "trap")
        )
        down = f.notification("InterfaceDown", "viettel-edge")
        vi = dict(build(down, "vi", ZONE, f.engine.ctx.names).facts)
    assert vi["Bằng chứng"] == "thiết bị gửi thông báo linkDown (SNMP trap)"
    assert vi["Kênh truyền"] == "Uplink Viettel - kênh 1 (cổng ge-0/0/0)"
    assert vi["Nhà mạng"] == "Viettel"


async def test_label_fields_are_filled_with_display_names(tmp_path: Path) -> None:
    """{carrier}, {group}, {severity}, {phase} in a rule's text read as people say them, in
    each language; {target} stays the slug."""
    doc = settings_doc(tmp_path / "state")
    doc["alerts"]["rules"].append(
        {
            "name": "CarrierLinkDown",
            "match": {"carrier": ["viettel"], "kind": ["icmp"]},
            "expr": "probe_success == 0",
            "failures": 1,
            "severity": "critical",
            "summary": {
                "vi": "{carrier} / {group} / {severity} / {phase} / {target}",
                "en": "{carrier} / {group} / {severity} / {phase} / {target}",
            },
        }
    )
    async with feed(tmp_path, doc) as f:
        await _down_and_up(f)
        alert = next(a.alert for a in f.announced if a.alert.rule == "CarrierLinkDown")
    assert alert.annotations["summary_vi"] == (
        "Viettel / Nhà mạng và đường truyền / Nghiêm trọng / Đại hội Đảng bộ tỉnh lần thứ XVIII"
        " / venue-viettel-uplink"
    )
    assert alert.annotations["summary_en"] == (
        "Viettel / Carriers and links / Critical / Đại hội Đảng bộ tỉnh lần thứ XVIII"
        " / venue-viettel-uplink"
    )
    assert alert.labels["carrier"] == "viettel" and alert.labels["severity"] == "critical"


async def test_flapping_is_said_in_words(tmp_path: Path) -> None:
    async with feed(tmp_path) as f:
        down, _ = await _down_and_up(f)
        flapping = Notification("id", "noc", "flapping", down.alert, down.created)
        vi = build(flapping, "vi", ZONE, f.engine.ctx.names)
    assert vi.status == "Chập chờn" and subject(vi).startswith("[Chập chờn] ")
    assert "Trạng thái thay đổi liên tục" in plain(vi)
