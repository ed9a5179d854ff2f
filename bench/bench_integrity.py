"""CPU per web integrity check of a 300 KB portal page: selectolax (Lexbor) against lxml.

Run by hand: ``.venv/bin/python bench/bench_integrity.py [--kb 300] [--rounds 5]``.

Both parsers do the same work on the lab's portal page (``monitor.lab.portal``) with links
injected: parse, collect the ``src``/``href``/``action`` of scripts, iframes, links and forms,
read the inline styles, and take the text. The table shows medians over rounds (each round the
mean of ``--repeat`` runs). Then netmon's own analysis (``probes.integrity.page.analyse``, on
the parser chosen, with the spam word list over its text: all the CPU a page costs) is timed
the same way: the goal is under 5 ms per page. The machine's load average is recorded: these
are CPU times, but a loaded shared machine still inflates them (caches, frequency). Results go to
bench/results/integrity.json.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.lab.portal import portal_page  # noqa: E402

_SELECT = "script[src], iframe[src], a[href], form[action], [style]"


def with_selectolax(html: str) -> int:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    found = 0
    for node in tree.css(_SELECT):
        attrs = node.attributes
        found += bool(attrs.get("src") or attrs.get("href") or attrs.get("action"))
        found += "none" in (attrs.get("style") or "")
    body = tree.body
    return found + len(body.text(separator=" ") if body is not None else "")


def with_lxml(html: str) -> int:
    import lxml.html

    root = lxml.html.document_fromstring(html)
    found = 0
    for node in root.xpath("//script[@src]|//iframe[@src]|//a[@href]|//form[@action]|//*[@style]"):
        attrs = node.attrib
        found += bool(attrs.get("src") or attrs.get("href") or attrs.get("action"))
        found += "none" in (attrs.get("style") or "")
    return found + len(" ".join(root.body.itertext()))


@functools.lru_cache(maxsize=2)
def _utf8(html: str) -> bytes:
    """The page as the probe has it, off the wire (encoded once, not on the clock)."""
    return html.encode()


def with_netmon(html: str) -> int:
    """What the probe spends per page: the analysis and the word list over its text."""
    from probes.integrity.page import analyse
    from probes.integrity.words import find_spam

    page = analyse(_utf8(html), "daklak.gov.vn")  # as the probe passes a UTF-8 body
    return len(find_spam(page.visible_text + " " + page.hidden_text))


def measure(
    fns: dict[str, Callable[[str], int]], html: str, rounds: int, repeat: int
) -> dict[str, float]:
    """Median over rounds of each function's mean CPU seconds per page; the functions take
    turns in every round, so a change of load on the shared machine hits them alike."""
    for fn in fns.values():
        fn(html)  # warm: imports, caches
    means: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.process_time()
            for _ in range(repeat):
                fn(html)
            means[name].append((time.process_time() - start) / repeat)
    return {name: statistics.median(values) for name, values in means.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kb", type=int, default=300)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--repeat", type=int, default=20)
    args = p.parse_args()
    html = portal_page(args.kb, fault="inject-links")
    fns = {"selectolax": with_selectolax, "lxml": with_lxml, "netmon analyse": with_netmon}
    if importlib.util.find_spec("lxml") is None:  # not a dependency: the comparison is optional
        del fns["lxml"]
    results = {name: s * 1000 for name, s in measure(fns, html, args.rounds, args.repeat).items()}
    print(
        f"page: {len(html.encode()) / 1024:.0f} KB, medians of {args.rounds} rounds, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for name, ms in results.items():
        print(f"  {name:<16} {ms:6.2f} ms CPU per page")
    out = REPO / "bench" / "results" / "integrity.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "page_kb": round(len(html.encode()) / 1024),
                "rounds": args.rounds,
                "ms_per_page": {k: round(v, 3) for k, v in results.items()},
                "python": platform.python_version(),
                "load_average_1m": round(os.getloadavg()[0], 2),
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
