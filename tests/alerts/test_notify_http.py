"""The http receiver through netmon's real dispatcher and outbox, against an SMS gateway's JSON
API on loopback (tests/support/sms.py), with the shipped ``examples/sms-gateway.toml``; its
settings checks (templates tried at load on a sample alert that holds quotes and line breaks);
the sandbox's escaping per part and content type."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from alerts.settings import HTTP_FIELDS, http_sample
from monitor.config import SettingsError, load_settings
from monitor.core import sandbox
from monitor.core.waiting import wait_for
from tests.support.alerts import metric, running, targets_server, write_settings
from tests.support.common import REPO
from tests.support.sms import SmsGateway, sms_gateway

TOKEN = "sms-token-bi-mat-0123"
SITE = 'Hội trường "A"\nphòng \\2 </b>'  # a label value that breaks careless JSON


def example_receiver(gateway: SmsGateway) -> dict[str, Any]:
    doc = tomllib.loads((REPO / "examples" / "sms-gateway.toml").read_text(encoding="utf-8"))
    receiver: dict[str, Any] = doc["alerts"]["receivers"]["sms-truc-ca"]
    receiver["url"] = f"{gateway.url}/api/v1/messages"
    return receiver


def alerts_for(**receivers: dict[str, Any]) -> dict[str, Any]:
    return {
        "receivers": {name: {"timeout": "500ms", **r} for name, r in receivers.items()},
        "routes": [{"match": {"severity": ["critical", "warning"]}, "receivers": list(receivers)}],
        # One rule, so a 503 pages TargetDown (the shipped HttpStatusError would mute it): what
        # is tested is the receiver.
        "shipped_rules": False,
        "shipped_inhibit": False,
        "rules": [
            {
                "name": "TargetDown",
                "expr": "probe_success == 0",
                "severity": "warning",
                "failures": 1,
                "recoveries": 1,
                "summary": {"vi": "{target} tại {site} mất kết nối & = # ?"},
            }
        ],
        "delivery": {"backoff_initial": "100ms", "backoff_max": "500ms"},
    }


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETMON_SMS_TOKEN", TOKEN)


async def dead_reasons(service: Any) -> list[str]:
    rows = await service.alerts.db.run(
        lambda c: c.execute("SELECT error FROM dead_letters").fetchall(), write=False
    )
    return [r[0] for r in rows]


async def test_the_shipped_example_sends_json_that_survives_any_label(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with sms_gateway(TOKEN) as gateway, targets_server() as web_:
        raw = {
            "type": "http",
            "url": f"{gateway.url}/api/v1/messages",
            "secrets_env": {"token": "NETMON_SMS_TOKEN"},
            "headers": {"Authorization": "Bearer {{ secrets.token }}"},
            "body": '{"to": ["+84900000009"], "text": {{ text | tojson }}, '
            '"labels": {{ labels | tojson }}, "kind": {{ kind | tojson }}}',
        }
        alerts = alerts_for(**{"sms-truc-ca": example_receiver(gateway), "sms-raw": raw})
        target = web_.target("hoi-truong", labels={"site": SITE})
        path = write_settings(tmp_path / "s.toml", [target], alerts)
        async with running(path):
            web_.modes["hoi-truong"] = "fail"
            await wait_for("both pages", lambda: len(gateway.accepted) == 2)
            web_.modes["hoi-truong"] = "ok"
            await wait_for("both ends", lambda: len(gateway.accepted) == 4)
    example = [a for a in gateway.accepted if "ref" in a]
    others = [a for a in gateway.accepted if "ref" not in a]
    assert len(example) == 2 and len(others) == 2
    page, end = example
    assert page["to"] == ["+84900000001", "+84900000002"] and page["sender"] == "NOC-DAKLAK"
    assert page["text"].startswith("[Cảnh báo] hoi-truong tại ")  # one language, one line
    assert 'Hội trường "A" phòng \\2 </b>' in page["text"]  # one line, every character kept
    assert end["text"].startswith("[Đã khôi phục]")
    ids = [
        h["X-Netmon-Notification-Id"]
        for h, a in zip(gateway.headers, gateway.accepted, strict=True)
        if "ref" in a
    ]
    assert [a["ref"] for a in example] == ids and len(set(ids)) == 2
    # The label reached the gateway exactly as it is, inside valid JSON.
    # The label reached the gateway exactly as it is, inside valid JSON, and in the text (the
    # site is one of the facts a message names).
    assert others[0]["labels"]["site"] == SITE and SITE in others[0]["text"]
    assert [o["kind"] for o in others] == ["firing", "resolved"]
    assert TOKEN not in caplog.text


async def test_a_refusal_is_a_dead_letter_with_the_gateways_words_not_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with sms_gateway(TOKEN) as gateway, targets_server() as web_:
        # The gateway quotes the token back in its refusal: it must not reach the log.
        gateway.answers = [(422, f'{{"error": "số không hợp lệ: +8490 (khoá {TOKEN})"}}')]
        alerts = alerts_for(sms=example_receiver(gateway))
        path = write_settings(
            tmp_path / "s.toml", [web_.target("hoi-truong", labels={"site": "A"})], alerts
        )
        async with running(path) as service:
            web_.modes["hoi-truong"] = "fail"
            await wait_for(
                "the dead letter",
                lambda: metric(service, "netmon_notifications_dead_total", receiver="sms") == 1,
            )
            reasons = await dead_reasons(service)
            await asyncio.sleep(0.6)  # a retry would come within 100-200 ms
            retries = metric(service, "netmon_notifications_total", receiver="sms", outcome="retry")
    assert gateway.requests == 1 and gateway.accepted == []
    assert retries in (None, 0)
    (reason,) = reasons
    assert reason.startswith("http sms: HTTP 422 ")
    assert "số không hợp lệ: +8490 (khoá ***)" in reason
    assert TOKEN not in caplog.text and TOKEN not in reason
    assert gateway.url not in reason  # no URL in errors


async def test_5xx_and_a_timeout_are_retried_then_delivered_once(tmp_path: Path) -> None:
    async with sms_gateway(TOKEN) as gateway, targets_server() as web_:
        gateway.answers = [(503, '{"error": "bận"}'), 1.5]  # then slower than the 500 ms timeout
        alerts = alerts_for(sms=example_receiver(gateway))
        path = write_settings(
            tmp_path / "s.toml", [web_.target("hoi-truong", labels={"site": "A"})], alerts
        )
        async with running(path) as service:
            web_.modes["hoi-truong"] = "fail"
            await wait_for("delivered", lambda: len(gateway.accepted) == 1, 15)
            retries = metric(service, "netmon_notifications_total", receiver="sms", outcome="retry")
            delivered = metric(
                service, "netmon_notifications_total", receiver="sms", outcome="delivered"
            )
    assert gateway.requests == 3 and retries == 2 and delivered == 1


async def test_get_puts_the_values_in_the_query_percent_encoded(tmp_path: Path) -> None:
    async with sms_gateway(TOKEN) as gateway, targets_server() as web_:
        receiver = {
            "type": "http",
            "method": "GET",
            "url": f"{gateway.url}/send?key={{{{ secrets.key }}}}&to={{{{ params.to }}}}"
            "&text={{ line }}",
            "secrets": {"key": "k&=/?#y"},
            "params": {"to": "+84900000001"},
        }
        alerts = alerts_for(sms=receiver)
        target = web_.target("hoi-truong", labels={"site": "A&B=C #1"})
        path = write_settings(tmp_path / "s.toml", [target], alerts)
        async with running(path):
            web_.modes["hoi-truong"] = "fail"
            await wait_for("the page", lambda: len(gateway.queries) == 1)
    (query,) = gateway.queries
    assert query["key"] == "k&=/?#y" and query["to"] == "+84900000001"
    assert "hoi-truong tại A&B=C #1 mất kết nối & = # ?" in query["text"]


BASE = """
[[targets]]
name = "venue-uplink"
kind = "icmp"
host = "127.0.0.1"
group = "carrier"

[alerts.receivers.sms]
type = "http"
url = "http://127.0.0.1:9/api"
secrets = { token = "bi-mat-inline" }
"""


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        (
            'body = \'{"text": "{{ text }}"}\'\n',
            "alerts.receivers.sms.body: does not render valid JSON (line 1, column ",
        ),
        (
            "body = '{\"text\": {{ txt | tojson }}}'\n",
            "alerts.receivers.sms.body: template: 'txt' is undefined",
        ),
        ("body = '{{ text | tojson }'\n", "alerts.receivers.sms.body: template syntax, line 1:"),
        (
            'headers = { Authorization = "Bearer {{ secrets.tokn }}" }\n',
            "alerts.receivers.sms.headers: header 'Authorization': template: 'dict object' has "
            "no attribute 'tokn'",
        ),
        (
            'headers = { X-Text = "{{ text }}" }\n',
            "alerts.receivers.sms.headers: header 'X-Text': renders a control character",
        ),
        (
            "body = '{{ \"\".__class__.__mro__ | tojson }}'\n",
            "alerts.receivers.sms.body: the sandbox refused: access to attribute '__class__' "
            "of 'str' object is unsafe",
        ),
        ('method = "GET"\nbody = "{}"\n', "alerts.receivers.sms.body: a GET request has no body"),
        (
            'secrets_env = { other = "NETMON_TEST_UNSET_VARIABLE" }\n',
            "alerts.receivers.sms.secrets_env: environment variable NETMON_TEST_UNSET_VARIABLE",
        ),
        ('method = "DELETE"\n', "alerts.receivers.sms.method: Input should be 'POST', 'PUT'"),
        ("expect_status = [99]\n", "alerts.receivers.sms.expect_status[0]: Input should be"),
        (
            '\n[alerts.receivers.z]\ntype = "zalo"\nuser_ids = [12]\naccess_token = "bi-mat-z"\n',
            "alerts.receivers.z.user_ids[0]: Input should be a valid string",
        ),
        (
            '\n[alerts.receivers.z]\ntype = "zalo"\nuser_ids = ["12"]\n'
            'refresh_token = "bi-mat-z"\n',
            "alerts.receivers.z: a refresh token needs `app_id` and the app secret",
        ),
    ],
)
def test_settings_errors_name_their_key(
    write_toml: Callable[..., Path], extra: str, error: str
) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(write_toml(BASE + extra))
    got = [str(i) for i in info.value.issues]
    assert len(got) == 1 and got[0].startswith(error), got
    assert "bi-mat" not in got[0]


def test_check_config_exits_2_on_a_bad_template(write_toml: Callable[..., Path]) -> None:
    path = write_toml(BASE + "body = '{\"text\": {{ text }}'\n")
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli.main", "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 2, done.stderr
    assert "alerts.receivers.sms.body:" in done.stderr and "Traceback" not in done.stderr


def test_the_sample_and_a_notification_fill_the_same_fields() -> None:
    from zoneinfo import ZoneInfo

    from alerts.model import AlertSnapshot, Notification
    from alerts.notify import NotifyContext
    from alerts.notify.http_request import fields
    from alerts.settings import HttpReceiver

    assert tuple(http_sample("firing", [], {})) == HTTP_FIELDS
    alert = AlertSnapshot(
        key="k",
        rule="Watchdog",
        target=None,
        status="resolved",
        labels={},
        annotations={},
        starts_at=0.0,
        ends_at=60.0,
        value=float("nan"),
    )
    note = Notification(id="n", receiver="r", kind="resolved", alert=alert, created=0.0)
    receiver = HttpReceiver.model_validate({"type": "http", "url": "http://127.0.0.1:9/"})
    ctx = NotifyContext(zone=ZoneInfo("Asia/Ho_Chi_Minh"), language="en", external_url="")
    values = fields(note, receiver, "r", ctx)
    assert tuple(values) == HTTP_FIELDS
    assert values["target"] == "" and values["value"] is None
    assert values["ends_at"] == "1970-01-01T00:01:00Z"


@pytest.mark.parametrize(
    ("part", "content_type", "source", "rendered"),
    [
        ("url", "application/json", "http://h/?t={{ v }}", "http://h/?t=a%20%26%3D%2F%23%0A%22"),
        ("body", "application/x-www-form-urlencoded", "t={{ v }}", "t=a+%26%3D%2F%23%0A%22"),
        ("body", "application/xml", "<t>{{ v }}</t>", "<t>a &amp;=/#\n&#34;</t>"),
        ("body", "application/json", "{{ v | tojson }}", '"a &=/#\\n\\""'),
        ("body", "text/plain", "{{ v }}", 'a &=/#\n"'),
        ("body", "application/json", '{"n": {{ v | tojson }}}', None),
        ("body", "application/json", '{"n": {{ 1e999 }}}', None),  # jinja2 writes `inf`
        ("body", "application/json", '{"n": NaN}', None),
        ("header", "application/json", "{{ v | replace('\\n', ' ') }}", 'a &=/# "'),
    ],
)
def test_each_part_is_escaped_for_where_it_lands(
    part: sandbox.Part, content_type: str, source: str, rendered: str | None
) -> None:
    template = sandbox.compile_template(source, part, content_type)
    if rendered is None:  # NaN and Infinity are not JSON, though Python's json takes them
        with pytest.raises(sandbox.TemplateFailed):
            sandbox.render(template, part, content_type, {"v": float("inf")})
        return
    assert sandbox.render(template, part, content_type, {"v": 'a &=/#\n"'}) == rendered
