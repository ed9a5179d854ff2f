"""The NOC's glossary (docs/glossary.md) holds for every Vietnamese text netmon writes: the
catalogue (monitor/core/i18n.py), the default rules' texts, the page and report templates, the
generated Grafana dashboards and Prometheus rules (issue 14, point 7)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.core import i18n
from monitor.core.i18n import detail_text, failure_text, reason_words, severity_text, state_text
from monitor.report.html import to_html
from monitor.report.render_csv import to_csv
from tests.support.common import REPO
from tests.support.report import built, write_ledger

GLOSSARY = REPO / "docs" / "glossary.md"
# The retired words, as docs/glossary.md lists them (lower case).
RETIRED = (
    "đang phát",
    "đang bật",
    "chứng chỉ",
    "bị che",
    "cấp trên hỏng",
    "không trong giai đoạn nào",
    "ngoài các đợt",
)
REACHABILITY = ("timeout", "refused", "unreachable", "connection")
NOT_REACHABILITY = ("status", "content", "tls", "dns", "answer", "redirects", "banner")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from _strings(v)


def _catalogue() -> list[str]:
    return [s for name, v in vars(i18n).items() if not name.startswith("__") for s in _strings(v)]


def _outputs() -> dict[str, str]:
    """Every file netmon's Vietnamese texts come from or go to, by path."""
    paths = [
        REPO / "alerts" / "rules_default.py",
        REPO / "alerts" / "notify" / "text.py",
        REPO / "grafana" / "dashboards.py",
        REPO / "grafana" / "prometheus.py",
        *sorted((REPO / "grafana" / "build").rglob("*.json")),
        *sorted((REPO / "grafana" / "build").rglob("*.yml")),
        *sorted((REPO / "monitor" / "web" / "templates").glob("*.html")),
        *sorted((REPO / "monitor" / "report" / "templates").glob("*")),
    ]
    files = {str(p.relative_to(REPO)): p.read_text(encoding="utf-8") for p in paths}
    files["monitor/core/i18n.py (catalogue)"] = "\n".join(_catalogue())
    return files


def _glossary_terms() -> list[tuple[str, str]]:
    text = GLOSSARY.read_text(encoding="utf-8")
    terms = text.split("## Terms", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in terms.splitlines() if line.startswith("| ") and "---" not in line]
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows[1:]]
    return [(c[0], c[1]) for c in cells]


def test_no_retired_word_anywhere() -> None:
    found = [
        (path, word)
        for path, text in _outputs().items()
        for word in RETIRED
        if word in text.lower()
    ]
    assert not found


def test_glossary_lists_the_retired_words() -> None:
    retired = GLOSSARY.read_text(encoding="utf-8").split("## Retired words", 1)[1]
    retired = retired.split("\n## ", 1)[0].lower()
    for word in RETIRED:
        assert word in retired, word


def test_every_glossary_term_is_used() -> None:
    corpus = "\n".join(_outputs().values()).lower()
    terms = _glossary_terms()
    assert len(terms) >= 25
    for vi, en in terms:
        assert vi and en, (vi, en)
        assert vi.lower() in corpus, vi


def test_reachability_words() -> None:
    for code in REACHABILITY:
        assert failure_text(code, "vi") == "mất kết nối"
        assert state_text("down", code, "vi") == "Mất kết nối"
    for code in NOT_REACHABILITY:
        assert "mất kết nối" not in failure_text(code, "vi").lower(), code
        assert state_text("down", code, "vi") == "Sự cố", code
    assert failure_text("status", "vi").startswith("gặp sự cố")
    assert failure_text("content", "vi").startswith("không đạt")
    assert state_text("suppressed", None, "vi") == "Bị ẩn do thiết bị cấp trên mất kết nối"
    assert state_text("up", None, "vi") == "Hoạt động"
    assert state_text("down", None, "vi") == "Sự cố"  # the probe passed; an alert says down
    # The reasons themselves: "mất kết nối" in none of them (they say what happened).
    assert not [t for t in reason_words("vi").values() if "mất kết nối" in t.lower()]


def test_certificates_have_one_name() -> None:
    # Every name for a certificate ("bằng chứng", evidence, is another word).
    texts = [t for t in _catalogue() if re.search(r"chứng (chỉ|thư|nhận)", t.lower())]
    assert texts
    assert all("chứng thư số" in t.lower() for t in texts), texts
    assert reason_words("vi")["tls"] == "Lỗi TLS hoặc chứng thư số"
    assert "chứng thư số còn 5 ngày" in i18n.reason_text("tls_expiring", "vi", {"days": "5"})


def test_severities() -> None:
    assert [severity_text(s, "vi") for s in ("critical", "warning", "info")] == [
        "Nghiêm trọng",
        "Cảnh báo",
        "Thông tin",
    ]
    assert i18n.words("vi")["alerts"] == "Cảnh báo hiện hành"


@pytest.mark.parametrize(
    ("reason", "detail", "lang", "shown"),
    [
        ("refused", "connect to 127.0.0.1:9 refused", "vi",
         "Kết nối bị từ chối. (connect to 127.0.0.1:9 refused)"),
        ("refused", "connect to 127.0.0.1:9 refused", "en", "connect to 127.0.0.1:9 refused"),
        ("tls", "", "vi", "Lỗi TLS hoặc chứng thư số."),
        ("tls", "", "en", "TLS or certificate error."),
        (None, "200 OK in 12 ms", "vi", "200 OK in 12 ms"),  # a success: the detail alone
        ("packet_loss", "3/5 echoes lost", "vi", "3/5 echoes lost"),  # its words need figures
        ("no-such-code", "odd", "vi", "odd"),
    ],
)  # fmt: skip
def test_detail_text(reason: str | None, detail: str, lang: str, shown: str) -> None:
    assert detail_text(reason, detail, "en" if lang == "en" else "vi") == shown


def test_words_of_the_glossary_reasons_table() -> None:
    """The glossary's reason table says what the catalogue says."""
    text = GLOSSARY.read_text(encoding="utf-8").split("## Reasons in words", 1)[1]
    rows = [r for r in text.splitlines() if r.startswith("| ") and "---" not in r][1:]
    assert len(rows) >= 8
    vi, en = reason_words("vi"), reason_words("en")
    for row in rows:
        code, vi_text, en_text = (c.strip() for c in row.strip("|").split("|"))
        assert (vi[code], en[code]) == (vi_text, en_text), code
    assert re.search(r"Kết nối bị từ chối\. \(", text)


async def test_report_speaks_the_glossary(tmp_path: Path) -> None:
    """The report as the department head reads it, HTML and CSV: outages are "sự cố" (HTTP
    and content faults are in the ledger too), no retired word."""
    settings, _ = await write_ledger(tmp_path)
    report = built(settings, phase="dai-hoi-tinh")
    page = "\n".join(to_html(report, "vi"))
    table = to_csv(report, "vi").decode("utf-8-sig")
    for text in (page, table):
        for word in RETIRED:
            assert word not in text.lower(), word
    assert "Danh sách các lần sự cố" in page and "Số lần sự cố" in page
    assert "Số lần sự cố" in table.splitlines()[0]
    assert "mất kết nối" not in table.lower()
