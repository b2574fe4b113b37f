"""The characters the recogniser reads, grouped the way the synthetic generator needs them.

The flat ``CHARSET`` comes from :mod:`plate_ocr.grammar` when that module exists (one source of
truth for the grammar and the model); the groups below are what plates are composed from.
"""

from __future__ import annotations

DIGITS = "0123456789"
PRIVATE = "가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주"
COMMERCIAL = "바사아자배"
RENTAL = "하허호"
MILITARY = "육해공국합"
REGIONS = [
    "서울",
    "부산",
    "대구",
    "인천",
    "광주",
    "대전",
    "울산",
    "세종",
    "경기",
    "강원",
    "충북",
    "충남",
    "전북",
    "전남",
    "경북",
    "경남",
    "제주",
]
DIPLOMATIC = ["외교", "영사", "준외", "준영", "국기", "협정", "대표"]


def _local_charset() -> str:
    chars = (
        DIGITS + PRIVATE + COMMERCIAL + RENTAL + MILITARY + "".join(REGIONS) + "".join(DIPLOMATIC)
    )
    return "".join(dict.fromkeys(chars))


try:
    from plate_ocr.grammar import CHARSET as _GRAMMAR_CHARSET  # type: ignore[attr-defined]

    CHARSET = "".join(dict.fromkeys(_GRAMMAR_CHARSET))
except ImportError:
    CHARSET = _local_charset()

if set(CHARSET) != set(_local_charset()):
    raise RuntimeError("plate_ocr.grammar.CHARSET and training.charset groups disagree")
