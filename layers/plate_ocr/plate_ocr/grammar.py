"""The South Korean licence plate grammar: normalise, correct, validate and parse a plate string.

Pure code: no I/O and no third-party imports, so the pipeline, the Gemini stage and the recogniser's
candidate ranking can all call it cheaply.

Formats (the plate number without spaces; a two-row plate is read top row first):

* ``7char``: 2 digits, usage syllable, 4 digits (``12가3456``; 2006-2019 national plates).
* ``8char``: 3 digits, usage syllable, 4 digits (``123가4567``; since September 2019).
* ``regional``: region, 1-2 digits, usage syllable, 4 digits (``서울12가3456``; older green
  plates and the yellow commercial plates, single- or two-row).
* ``diplomatic``: mission prefix, 3 digits (the mission), 3 digits (rank in it)
  (``외교123-456`` on the plate, ``외교123456`` normalised).

The syllables follow the Ministry's notice on registration plates
(자동차 등록번호판 등의 기준에 관한 고시, article 5), plus 배 for parcel delivery (2013) and the
military syllables.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Final

DIGIT: Final = "0123456789"

PRIVATE_SYLLABLES: Final = "가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주"
COMMERCIAL_SYLLABLES: Final = "바사아자"
DELIVERY_SYLLABLES: Final = "배"
RENTAL_SYLLABLES: Final = "하허호"
MILITARY_SYLLABLES: Final = "육해공국합"

#: Every usage syllable on current plates, in the order of the notice.
SYLLABLES: Final = (
    PRIVATE_SYLLABLES
    + COMMERCIAL_SYLLABLES
    + DELIVERY_SYLLABLES
    + RENTAL_SYLLABLES
    + MILITARY_SYLLABLES
)

#: Region names as printed on regional plates (without 특별시 / 광역시 / 도 suffixes).
REGIONS: Final = (
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
)

#: Mission classes on diplomatic plates: embassy, consulate, quasi-diplomatic, quasi-consular,
#: international organisation, agreement, representative office.
DIPLOMATIC_PREFIXES: Final = ("외교", "영사", "준외", "준영", "국기", "협정", "대표")

USAGE_LABELS: Final = MappingProxyType(
    {
        "private": "비사업용",
        "commercial": "사업용",
        "delivery": "택배",
        "rental": "렌터카",
        "military": "군용",
        "diplomatic": "외교",
    }
)

USAGE_BY_SYLLABLE: Final = MappingProxyType(
    {
        **dict.fromkeys(PRIVATE_SYLLABLES, "private"),
        **dict.fromkeys(COMMERCIAL_SYLLABLES, "commercial"),
        **dict.fromkeys(DELIVERY_SYLLABLES, "delivery"),
        **dict.fromkeys(RENTAL_SYLLABLES, "rental"),
        **dict.fromkeys(MILITARY_SYLLABLES, "military"),
    }
)

#: Every character a plate string can contain; the recogniser's alphabet is built from it.
CHARSET: Final = "".join(
    sorted(set(DIGIT + SYLLABLES + "".join(REGIONS) + "".join(DIPLOMATIC_PREFIXES)))
)

# Military plates never carry a region, so a regional plate with one is a misread.
_REGIONAL_SYLLABLES: Final = frozenset(SYLLABLES) - frozenset(MILITARY_SYLLABLES)

# Characters OCR engines (and Gemini) return for a digit. Applied only where the format demands a
# digit. The jamo ㅇ and ㅣ are drawn like 0 and 1, so engines with a Korean alphabet confuse them.
DIGIT_CONFUSIONS: Final = MappingProxyType(
    {
        "O": "0",
        "Q": "0",
        "D": "0",
        "U": "0",
        "ㅇ": "0",
        "I": "1",
        "L": "1",
        "|": "1",
        "!": "1",
        "ㅣ": "1",
        "Z": "2",
        "A": "4",
        "S": "5",
        "G": "6",
        "T": "7",
        "B": "8",
    }
)

# Strokes that blur away or appear in low-resolution crops, as pairs of jamo that differ by one
# short stroke or a mirror image. Used to find look-alike syllables one edit away.
_INITIAL_PAIRS: Final = (
    ("ㄱ", "ㅋ"),
    ("ㄷ", "ㅌ"),
    ("ㅂ", "ㅍ"),
    ("ㅈ", "ㅊ"),
    ("ㅅ", "ㅈ"),
    ("ㅇ", "ㅎ"),
    ("ㄱ", "ㄲ"),
    ("ㄷ", "ㄸ"),
    ("ㅂ", "ㅃ"),
    ("ㅅ", "ㅆ"),
    ("ㅈ", "ㅉ"),
    ("ㄴ", "ㄷ"),
    ("ㄷ", "ㄹ"),
    ("ㅁ", "ㅂ"),
)
_MEDIAL_PAIRS: Final = (
    ("ㅏ", "ㅐ"),
    ("ㅓ", "ㅔ"),
    ("ㅏ", "ㅓ"),
    ("ㅐ", "ㅔ"),
    ("ㅏ", "ㅑ"),
    ("ㅓ", "ㅕ"),
    ("ㅗ", "ㅛ"),
    ("ㅜ", "ㅠ"),
    ("ㅗ", "ㅜ"),
)

# Unicode Hangul syllable composition (Unicode 15, section 3.12).
_S_BASE: Final = 0xAC00
_L_COUNT, _V_COUNT, _T_COUNT = 19, 21, 28
_INITIALS: Final = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_MEDIALS: Final = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"

# Separators people and engines put inside a plate number; they carry no information.
_SEPARATORS: Final = re.compile(r"[\s\-‐‑‒–—―−.·・ㆍ_]+")


@dataclass(frozen=True)
class PlateParse:
    """A plate string checked against the grammar.

    Attributes:
        text: The normalised and corrected plate number, without spaces.
        valid: Whether ``text`` is a well-formed plate number of a known format.
        format: ``"7char"``, ``"8char"``, ``"regional"`` or ``"diplomatic"``; None when invalid.
        region: The region name on a regional plate, else None.
        digits_front: The vehicle-class digits (the mission number on a diplomatic plate).
        syllable: The usage syllable (the mission prefix on a diplomatic plate).
        serial: The trailing serial digits (4, or 3 on a diplomatic plate).
        usage: A stable usage id (see :data:`USAGE_LABELS`), else None.
        usage_label: The Korean label of ``usage``, else None.
        corrections: Human-readable notes on each character the grammar changed.
    """

    text: str
    valid: bool
    format: str | None = None
    region: str | None = None
    digits_front: str = ""
    syllable: str = ""
    serial: str = ""
    usage: str | None = None
    usage_label: str | None = None
    corrections: tuple[str, ...] = ()


@dataclass(frozen=True)
class Slot:
    """One position of a plate format: a digit, a usage syllable, or a fixed two-character word."""

    kind: str  # "digit" | "syllable" | "word"
    allowed: tuple[str, ...]


@dataclass(frozen=True)
class PlateFormat:
    """A plate number format: its slots in reading order, an example and a short description.

    :data:`FORMATS` is the one table of formats: parsing here, the recogniser's slot templates, the
    synthetic generator's plates and the stage-2 prompt are all built from it.
    """

    name: str
    slots: tuple[Slot, ...]
    example: str
    description: str


_D = Slot("digit", tuple(DIGIT))
_S = Slot("syllable", tuple(SYLLABLES))
_S_REGIONAL = Slot("syllable", tuple(s for s in SYLLABLES if s in _REGIONAL_SYLLABLES))
_REGION = Slot("word", REGIONS)
_PREFIX = Slot("word", DIPLOMATIC_PREFIXES)

FORMATS: Final = (
    PlateFormat("7char", (_D, _D, _S, _D, _D, _D, _D), "12가3456", "2 digits, syllable, 4 digits"),
    PlateFormat(
        "8char",
        (_D, _D, _D, _S, _D, _D, _D, _D),
        "123가4567",
        "3 digits, syllable, 4 digits (since 2019)",
    ),
    PlateFormat(
        "regional",
        (_REGION, _D, _D, _S_REGIONAL, _D, _D, _D, _D),
        "서울12가3456",
        "region name, 2 digits, syllable, 4 digits (older plates; a two-row plate is read top row "
        "first)",
    ),
    PlateFormat(
        "regional",
        (_REGION, _D, _S_REGIONAL, _D, _D, _D, _D),
        "서울1가3456",
        "region name, 1 digit, syllable, 4 digits",
    ),
    PlateFormat(
        "diplomatic",
        (_PREFIX, _D, _D, _D, _D, _D, _D),
        "외교123456",
        "mission prefix, 3-digit mission, 3-digit rank (외교 123-456 on the plate)",
    ),
)


def describe_formats() -> str:
    """The formats in words, with examples (the stage-2 prompt tells Gemini what a plate is)."""
    return "; ".join(f"{f.example} ({f.description})" for f in FORMATS)


def normalize(text: str) -> str:
    """Canonical form of a plate string: NFC, no separators, Latin upper case, ASCII digits.

    Args:
        text: A plate number as read or typed, e.g. ``"12 가 3456"`` or ``"외교 123-456"``.

    Returns:
        The string without spaces, dashes, dots or line breaks.
    """
    text = unicodedata.normalize("NFC", text)
    # Full-width forms (U+FF01..U+FF5E) come from Japanese/Korean IMEs and some OCR engines.
    text = "".join(chr(ord(c) - 0xFEE0) if "\uff01" <= c <= "\uff5e" else c for c in text)
    text = _SEPARATORS.sub("", text)
    return "".join(c.upper() if c.isascii() else c for c in text)


def lookalike_syllables(char: str) -> tuple[str, ...]:
    """Valid usage syllables that differ from ``char`` by one look-alike jamo.

    A valid syllable is its own only answer: 바 and 배 are both real, so neither is ever turned into
    the other here. Candidate ranking may still weigh such pairs using the recogniser's scores.

    Args:
        char: One character read at the syllable position.

    Returns:
        The syllables, in :data:`SYLLABLES` order; empty when there is none or ``char`` is not
        a Hangul syllable.
    """
    if char in USAGE_BY_SYLLABLE:
        return (char,)
    parts = _decompose(char)
    if parts is None:
        return ()
    initial, medial, final = parts
    found: set[str] = set()
    for a, b in _INITIAL_PAIRS:
        for src, dst in ((a, b), (b, a)):
            if initial == src:
                found.add(_compose(dst, medial, final))
    for a, b in _MEDIAL_PAIRS:
        for src, dst in ((a, b), (b, a)):
            if medial == src:
                found.add(_compose(initial, dst, final))
    return tuple(s for s in SYLLABLES if s in found)


def correct(text: str) -> str:
    """Fix confusable characters where the plate format leaves no doubt.

    Args:
        text: A plate number as read.

    Returns:
        The normalised, corrected plate number, or the normalised input when no format fits.
    """
    return parse(text).text


def is_valid(text: str) -> bool:
    """Whether ``text``, after normalisation and correction, is a well-formed plate number."""
    return parse(text).valid


def parse(text: str) -> PlateParse:
    """Normalise, correct and split a plate number into its parts.

    Latin look-alikes become digits only at positions that must hold a digit; an invalid syllable is
    replaced only by its single look-alike valid syllable. Among formats that fit, the one needing
    the fewest corrections wins. Parses of short strings (every reading of a plate) are kept
    (:data:`PARSE_CACHE`): the recogniser and the pipeline ask about the same few candidates about
    ten times a crop.

    Args:
        text: A plate number as read, single- or two-row (top row first).

    Returns:
        The parse; ``valid`` is False and the other fields empty when no format fits.
    """
    if len(text) <= CACHED_LENGTH:
        return _parse_cached(text)
    return _parse(text)


#: Strings up to this long are parsed once (a plate has at most 10 characters; spaces and dashes
#: of a typed one fit too). Longer ones, as from a chatty stage-2 answer, are parsed each time, so
#: the cache never holds more than :data:`PARSE_CACHE` short keys.
CACHED_LENGTH = 32
PARSE_CACHE = 4096


@lru_cache(maxsize=PARSE_CACHE)
def _parse_cached(text: str) -> PlateParse:
    return _parse(text)


def _parse(text: str) -> PlateParse:
    normalized = normalize(text)
    best: PlateParse | None = None
    for plate_format in FORMATS:
        matched = _match(plate_format, normalized)
        if matched is None:
            continue
        result = _build(plate_format.name, *matched)
        if result.valid and (best is None or len(result.corrections) < len(best.corrections)):
            best = result
    return best if best is not None else PlateParse(text=normalized, valid=False)


def _match(plate_format: PlateFormat, text: str) -> tuple[list[str], tuple[str, ...]] | None:
    """Fit ``text`` to a format; return its pieces (one per slot) and the corrections made."""
    pieces: list[str] = []
    notes: list[str] = []
    pos = 0
    for slot in plate_format.slots:
        if slot.kind == "word":
            word = text[pos : pos + 2]
            if word not in slot.allowed:
                return None
            pieces.append(word)
            pos += 2
            continue
        if pos >= len(text):
            return None
        char = text[pos]
        fixed = _fix(slot, char)
        if fixed is None:
            return None
        if fixed != char:
            notes.append(f"{char}→{fixed} at position {pos + 1}")
        pieces.append(fixed)
        pos += 1
    if pos != len(text):
        return None
    return pieces, tuple(notes)


def _fix(slot: Slot, char: str) -> str | None:
    if char in slot.allowed:
        return char
    if slot.kind == "digit":
        return DIGIT_CONFUSIONS.get(char)
    options = [s for s in lookalike_syllables(char) if s in slot.allowed]
    # Two look-alikes (베 could be 배 or 버) means the crop cannot tell; guessing would be blind.
    return options[0] if len(options) == 1 else None


_INVALID: Final = PlateParse(text="", valid=False)


def _build(name: str, pieces: list[str], notes: tuple[str, ...]) -> PlateParse:
    """Assemble the parse of a template fit, applying the number rules a template cannot express."""
    region: str | None = None
    if name == "diplomatic":
        prefix, digits = pieces[0], "".join(pieces[1:])
        front, serial = digits[:3], digits[3:]
        text = prefix + digits
        # Mission and rank numbers both start at 001 (외교 001-001 is the first embassy's head car).
        if front == "000" or serial == "000":
            return _INVALID
        return PlateParse(
            text=text,
            valid=True,
            format=name,
            digits_front=front,
            syllable=prefix,
            serial=serial,
            usage="diplomatic",
            usage_label=USAGE_LABELS["diplomatic"],
            corrections=notes,
        )
    if name == "regional":
        region, pieces = pieces[0], pieces[1:]
    text = (region or "") + "".join(pieces)
    front = "".join(pieces[:-5])
    syllable = pieces[-5]
    serial = "".join(pieces[-4:])
    # Serial 0000 is never issued, vehicle classes start at 01 (100 on three-digit plates).
    valid = serial != "0000" and int(front) > 0 and not (len(front) == 3 and front[0] == "0")
    if not valid:
        return _INVALID
    usage = USAGE_BY_SYLLABLE[syllable]
    return PlateParse(
        text=text,
        valid=True,
        format=name,
        region=region,
        digits_front=front,
        syllable=syllable,
        serial=serial,
        usage=usage,
        usage_label=USAGE_LABELS[usage],
        corrections=notes,
    )


def _decompose(char: str) -> tuple[str, str, int] | None:
    """Split a precomposed Hangul syllable into (initial, medial, final index)."""
    if len(char) != 1:
        return None
    index = ord(char) - _S_BASE
    if not 0 <= index < _L_COUNT * _V_COUNT * _T_COUNT:
        return None
    initial, rest = divmod(index, _V_COUNT * _T_COUNT)
    medial, final = divmod(rest, _T_COUNT)
    return _INITIALS[initial], _MEDIALS[medial], final


def _compose(initial: str, medial: str, final: int) -> str:
    index = (_INITIALS.index(initial) * _V_COUNT + _MEDIALS.index(medial)) * _T_COUNT + final
    return chr(_S_BASE + index)
