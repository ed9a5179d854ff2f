"""One page's integrity facts, parsed with selectolax (Lexbor, a real HTML5 parser).

selectolax was measured against lxml on the lab's 300 KB portal page (bench/bench_integrity.py):
about twice as fast for the same parse, selection and text. ``analyse`` is pure CPU on a string
the probe has already capped (``max_body_bytes``); the probe runs it in a thread.

What it gathers:

- the external domains of scripts, iframes, embeds, objects and a meta refresh (``scripts``:
  what runs code or moves the visitor), of links (``links``) and of forms (``forms``);
- links hidden by CSS: in an element whose inline style, ``hidden`` attribute or a simple
  ``.class``/``#id`` rule of the page's ``<style>`` says ``display:none``,
  ``visibility:hidden``, ``font-size:0``, ``opacity:0``, a zero height or width with
  ``overflow:hidden``, or off-screen positioning (a negative offset of 500 px or more), or
  inside such an element;
- the visible text (without scripts, styles and hidden elements), the hidden text, the title;
- a simhash of the visible text (64 bits over 3-word shingles), for similarity.
"""

from __future__ import annotations

import re
import zlib
from array import array
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = ["HiddenLink", "Page", "analyse", "domain_of", "simhash", "similarity"]

MAX_TEXT = 200_000  # characters of visible text kept (the spam words are searched in them)
# Characters the fingerprint reads: a defacement replaces the page, so its first 8 K
# characters (the menus and the first news) tell; the whole text of a 300 KB page would cost
# several times the CPU of the parse (bench/bench_integrity.py).
FINGERPRINT_TEXT = 8_192
_SNIPPET = 240

_SPACE = re.compile(r"\s+")
_NEG_OFFSET = re.compile(r"(?:^|;)(?:left|top|right|text-indent|margin-left|margin-top):-(\d+)")
_FONT_ZERO = re.compile(r"(?:^|;)font-size:0(?:\.0+)?(?:px|pt|em|rem|%)?(?:;|$|!)")
_OPACITY_ZERO = re.compile(r"(?:^|;)opacity:0(?:\.0+)?(?:;|$|!)")
_SIZE_ZERO = re.compile(r"(?:^|;)(?:max-)?(?:height|width):0(?:px)?(?:;|$|!)")
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_SIMPLE_SELECTOR = re.compile(r"^[.#][A-Za-z_][\w-]*$")
_REFRESH_URL = re.compile(r"url\s*=\s*['\"]?([^'\";]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class HiddenLink:
    domain: str
    text: str
    snippet: str  # the hiding element's HTML, cut short


@dataclass(slots=True)
class Page:
    title: str = ""
    scripts: dict[str, str] = field(default_factory=dict)  # domain → the first tag's HTML
    links: Counter[str] = field(default_factory=Counter)  # domain → links to it
    forms: dict[str, str] = field(default_factory=dict)
    hidden_links: list[HiddenLink] = field(default_factory=list)
    visible_text: str = ""
    hidden_text: str = ""
    refresh: str | None = None  # a meta refresh's target URL
    simhash: int = 0


def domain_of(url: str) -> str | None:
    """The host of an absolute or scheme-relative URL, lower-cased, without ``www.``; None
    for a relative one (the page's own site) and for schemes that are no place (mailto...)."""
    url = url.strip()
    low = url[:12].lower()
    if not (low.startswith(("http://", "https://")) or url.startswith("//")):
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".")
    return host[4:] if host.startswith("www.") else host


def own_domain(host: str, own: tuple[str, ...]) -> bool:
    return any(host == d or host.endswith("." + d) for d in own)


def _hides(style: str) -> bool:
    s = style.lower().replace(" ", "").replace("\n", "").replace("\t", "")
    if "display:none" in s or "visibility:hidden" in s:
        return True
    if _FONT_ZERO.search(s) or _OPACITY_ZERO.search(s):
        return True
    if "overflow:hidden" in s and _SIZE_ZERO.search(s):  # a box of no size clipping its links
        return True
    return any(int(m.group(1)) >= 500 for m in _NEG_OFFSET.finditer(s))


def _hiding_selectors(tree: LexborHTMLParser) -> list[str]:
    """The page's ``<style>`` rules with a simple ``.class`` or ``#id`` selector that hide."""
    found = []
    for style in tree.css("style"):
        for selectors, declarations in _RULE.findall(style.text(deep=True)):
            if not _hides(declarations):
                continue
            for selector in selectors.split(","):
                selector = selector.strip()
                if _SIMPLE_SELECTOR.match(selector):
                    found.append(selector)
    return found


def _snippet(node: LexborNode) -> str:
    html = _SPACE.sub(" ", node.html or "")
    return html if len(html) <= _SNIPPET else html[: _SNIPPET - 1] + "…"


def _text(node: LexborNode) -> str:
    # Fragments stripped and joined by one space; whitespace inside a fragment stays (the word
    # matcher and the fingerprint split on any whitespace): re-joining all words costs 0.8 ms.
    return node.text(separator=" ", strip=True, skip_empty=True)


def analyse(html: str | bytes, host: str, own: tuple[str, ...] = ()) -> Page:
    """The integrity facts of ``html`` (text, or UTF-8 bytes) served by ``host`` (``own``: more
    domains of the site)."""
    site = host.lower()
    site = site[4:] if site.startswith("www.") else site
    owned = (site, *own)
    tree = LexborHTMLParser(html)
    page = Page()
    title = tree.css_first("title")
    if title is not None:
        page.title = _text(title)

    def external(url: str | None) -> str | None:
        domain = domain_of(url) if url else None
        return domain if domain is not None and not own_domain(domain, owned) else None

    for node in tree.css("script[src], iframe[src], embed[src], object[data], frame[src]"):
        domain = external(node.attributes.get("src") or node.attributes.get("data"))
        if domain is not None:
            page.scripts.setdefault(domain, _snippet(node))
    for node in tree.css("meta[http-equiv]"):
        if (node.attributes.get("http-equiv") or "").lower() != "refresh":
            continue
        match = _REFRESH_URL.search(node.attributes.get("content") or "")
        if match:
            page.refresh = match.group(1).strip()
            domain = external(page.refresh)
            if domain is not None:
                page.scripts.setdefault(domain, _snippet(node))
    for node in tree.css("form[action]"):
        domain = external(node.attributes.get("action"))
        if domain is not None:
            page.forms.setdefault(domain, _snippet(node))
    # Only absolute and scheme-relative links can leave the site: let Lexbor pick them (two
    # selectors for any tag, then the tag checked here: 40 % less CPU than four with tags).
    for node in tree.css('[href^="http" i], [href^="//"]'):
        if node.tag not in ("a", "area"):
            continue
        domain = external(node.attributes.get("href"))
        if domain is not None:
            page.links[domain] += 1

    # Hidden elements: found in document order; one inside another counts with its container.
    selectors = ["[style]", "[hidden]", *_hiding_selectors(tree)]
    # The nodes a hiding <style> rule selects, found in one query: asking each styled node
    # css_matches() parses the selectors again for every node.
    by_rule = {n.mem_id for n in tree.css(", ".join(selectors[2:]))} if selectors[2:] else set()
    hidden: dict[int, LexborNode] = {}
    for node in tree.css(", ".join(selectors)):
        if node.tag in ("html", "head", "body", "script", "style", "template"):
            continue
        style = node.attributes.get("style")
        hides = "hidden" in node.attributes or (style is not None and _hides(style))
        if not hides and node.mem_id not in by_rule:
            continue
        parent, inside = node.parent, False
        while parent is not None:
            if parent.mem_id in hidden:
                inside = True
                break
            parent = parent.parent
        if not inside:
            hidden[node.mem_id] = node
    hidden_texts = []
    for node in hidden.values():
        anchors = [node] if node.tag == "a" else node.css("a[href]")
        for anchor in anchors:
            domain = external(anchor.attributes.get("href"))
            if domain is not None:
                page.hidden_links.append(HiddenLink(domain, _text(anchor), _snippet(node)))
        hidden_texts.append(_text(node))
    page.hidden_text = " ".join(t for t in hidden_texts if t)
    for node in hidden.values():
        node.decompose()
    # Simple selectors and decompose: a third of strip_tags' or descendant selectors' CPU.
    for node in tree.css("script, style, noscript, template, svg"):
        node.decompose()
    body = tree.body
    text = _text(body) if body is not None else ""
    page.visible_text = text[:MAX_TEXT]
    page.simhash = simhash(page.visible_text[:FINGERPRINT_TEXT])
    return page


# The whitespace str.split() splits on and bytes.split() does not (Unicode's, beyond ASCII).
_ODD_SPACE = re.compile("[\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")


def simhash(text: str) -> int:
    """Charikar's simhash of ``text``: 64 bits over its distinct 3-word shingles.

    A shingle's 64 bits are its CRC-32 and Adler-32 (stable across processes, unlike
    ``hash()``, and computed in C through ``map``); each bit of the result is the majority of
    that bit over the shingles. The counts are popcounts: the 32-bit checksums side by side in
    one integer, shifted by the bit and masked to one bit per lane (C loops over a few KB,
    a quarter less CPU than counting per byte column).
    """
    text = text.lower()
    encoded: list[bytes]
    if _ODD_SPACE.search(text) is None:
        # Only ASCII whitespace: the UTF-8 split on it gives the same words, and shingles
        # joined as bytes need no encoding each (0.45 -> 0.27 ms for 8 KB of text).
        raw = text.encode().split()
        encoded = list(set(map(b" ".join, zip(raw, raw[1:], raw[2:], strict=False))))
        if not encoded and raw:
            encoded = [b" ".join(raw)]
    else:
        words = text.split()  # punctuation stays on its word: no matter for a fingerprint
        shingles = set(map(" ".join, zip(words, words[1:], words[2:], strict=False)))
        if not shingles and words:
            shingles = {" ".join(words)}
        encoded = list(map(str.encode, shingles))
    if not encoded:
        return 0
    half = len(encoded) / 2
    lanes = int.from_bytes(b"\x01\x00\x00\x00" * len(encoded), "little")  # bit 0 of each
    value = 0
    for offset, checksum in ((0, zlib.crc32), (32, zlib.adler32)):
        # Native order is little-endian on x86 and arm; the lanes are 32 bits either way.
        packed = int.from_bytes(array("I", map(checksum, encoded)).tobytes(), "little")
        for bit in range(32):
            if ((packed >> bit) & lanes).bit_count() > half:
                value |= 1 << (offset + bit)
    return value


def similarity(a: int, b: int) -> float:
    """1.0 for equal fingerprints, about 0.5 for unrelated texts."""
    return 1.0 - (a ^ b).bit_count() / 64
