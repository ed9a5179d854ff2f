"""The shipped Vietnamese gambling and SEO-spam word list, and its matcher.

Each entry is the word as the NOC reads it and the spellings injected pages use: with
diacritics, without (spammers drop them to dodge filters), run together ("nohu"). The text is
matched NFC-normalised and lower-cased, not stripped of its diacritics: stripping would make
"bán cá" (selling fish) read as "ban ca" and "lo để" as "lo de". So an unaccented spelling is
listed only where it is not an ordinary Vietnamese phrase. Matches are word-bounded (``\\w`` is
Unicode-aware), so "casino" inside another word does not match.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

__all__ = ["SPAM_WORDS", "find_spam", "normalise"]

SPAM_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("nổ hũ", ("nổ hũ", "no hu", "nohu", "nổ hủ")),
    ("tài xỉu", ("tài xỉu", "tai xiu", "taixiu", "tài sỉu")),
    ("casino", ("casino", "casinos", "live casino")),
    ("bắn cá", ("bắn cá", "bắn cá đổi thưởng", "banca đổi thưởng")),
    ("xóc đĩa", ("xóc đĩa", "xoc dia", "xocdia", "xóc dĩa")),
    ("lô đề", ("lô đề", "lode", "lô tô online", "đánh đề")),
    ("cá cược", ("cá cược", "ca cuoc", "cacuoc")),
    ("cá độ", ("cá độ", "ca do bong da", "cá độ bóng đá")),
    ("nhà cái", ("nhà cái", "nha cai", "nhacai")),
    ("đá gà", ("đá gà", "đá gà trực tiếp", "daga", "đá gà thomo")),
    ("slot", ("slot", "slots", "slot game")),
    ("baccarat", ("baccarat",)),
    ("poker", ("poker",)),
    ("game bài đổi thưởng", ("game bài đổi thưởng", "game bai doi thuong", "đánh bài online")),
    ("soi cầu", ("soi cầu", "soi cau")),
    ("soi kèo", ("soi kèo", "soi keo", "kèo nhà cái", "keo nha cai", "tỷ lệ kèo")),
    ("cược", ("đặt cược", "dat cuoc", "cược thủ")),
    ("sòng bạc", ("sòng bạc", "song bac", "sòng bài")),
    ("jackpot", ("jackpot",)),
    ("bet", ("bet", "w88", "fb88", "kubet", "789bet", "new88", "jun88", "sv388", "hi88")),
    ("sunwin", ("sunwin", "go88", "rikvip", "hitclub", "b52club", "iwin club", "789club")),
    ("cờ bạc", ("cờ bạc", "co bac online")),
    ("vay tiền nhanh", ("vay tiền nhanh", "vay tien nhanh", "vay online siêu tốc")),
)


def normalise(text: str) -> str:
    return unicodedata.normalize("NFC", text).lower()


@functools.lru_cache(maxsize=32)
def _matcher(
    extra: tuple[str, ...], allow: tuple[str, ...]
) -> tuple[re.Pattern[str], dict[str, str]]:
    canonical: dict[str, str] = {}
    for word, forms in SPAM_WORDS:
        for form in forms:
            canonical[normalise(form)] = word
    for word in extra:
        canonical[normalise(word)] = normalise(word)
    allowed = {normalise(w) for w in allow}
    canonical = {f: w for f, w in canonical.items() if w not in allowed and f not in allowed}
    # Longest first, so "live casino" is one match, not "casino" inside it.
    longest_first = sorted(canonical, key=len, reverse=True)
    body = "|".join(re.escape(f).replace(r"\ ", r"\s+") for f in longest_first)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)"), canonical


def find_spam(text: str, extra: Iterable[str] = (), allow: Iterable[str] = ()) -> dict[str, int]:
    """The list's words found in ``text``, by the word (its canonical spelling), with counts."""
    pattern, canonical = _matcher(tuple(extra), tuple(allow))
    found: dict[str, int] = {}
    for match in pattern.finditer(normalise(text)):
        word = canonical.get(re.sub(r"\s+", " ", match.group()), match.group())
        found[word] = found.get(word, 0) + 1
    return found
