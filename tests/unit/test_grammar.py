"""Table-driven tests of the Korean plate grammar (pure code, no I/O)."""

from __future__ import annotations

import pytest

from plate_ocr import grammar
from plate_ocr.grammar import (
    CHARSET,
    DIGIT,
    DIPLOMATIC_PREFIXES,
    REGIONS,
    SYLLABLES,
    USAGE_BY_SYLLABLE,
    correct,
    is_valid,
    lookalike_syllables,
    normalize,
    parse,
)

PRIVATE = "가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주"

# (input, expected plate number, format)
VALID_PLATES = [
    ("12가3456", "12가3456", "7char"),
    ("01나0001", "01나0001", "7char"),
    ("99호9999", "99호9999", "7char"),
    ("69저1000", "69저1000", "7char"),
    ("12국1720", "12국1720", "7char"),
    ("123가4567", "123가4567", "8char"),
    ("247너5294", "247너5294", "8char"),
    ("100배0101", "100배0101", "8char"),
    ("999허9999", "999허9999", "8char"),
    ("서울12가3456", "서울12가3456", "regional"),
    ("부산31바6697", "부산31바6697", "regional"),
    ("경기71아1448", "경기71아1448", "regional"),
    ("서울80배7171", "서울80배7171", "regional"),
    ("서울1가1234", "서울1가1234", "regional"),
    ("외교123456", "외교123456", "diplomatic"),
    ("외교 001-001", "외교001001", "diplomatic"),
    ("국기 101-003", "국기101003", "diplomatic"),
]


@pytest.mark.parametrize(
    ("text", "plate", "fmt"), VALID_PLATES, ids=[case[0] for case in VALID_PLATES]
)
def test_accepts_a_well_formed_plate_and_names_its_format(text: str, plate: str, fmt: str) -> None:
    result = parse(text)
    assert result.valid
    assert result.text == plate
    assert result.format == fmt
    assert result.corrections == ()
    assert is_valid(text)


SPACED = [
    ("12 가 3456", "12가3456"),
    ("123가 4567", "123가4567"),
    (" 12가3456 ", "12가3456"),
    ("12-가-3456", "12가3456"),
    ("12.가.3456", "12가3456"),
    ("12\t가\r\n3456", "12가3456"),
    ("서울 12 가 3456", "서울12가3456"),
    ("１２가３４５６", "12가3456"),
    ("\u1100\u116112", "가12"),
]


@pytest.mark.parametrize(("text", "expected"), SPACED, ids=[repr(c[0]) for c in SPACED])
def test_normalize_strips_separators_and_composes_hangul(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_normalize_uppercases_latin_letters_only() -> None:
    assert normalize("12o가 3l56") == "12O가3L56"


def test_normalize_composes_decomposed_hangul_to_one_syllable() -> None:
    decomposed = "12\u1100\u1161" + "3456"
    assert parse(decomposed).text == "12가3456"
    assert parse(decomposed).valid


def test_two_row_regional_plate_read_top_row_first_is_valid() -> None:
    result = parse("서울 12\n바 3456")
    assert result.valid
    assert result.text == "서울12바3456"
    assert result.region == "서울"
    assert result.digits_front == "12"
    assert result.syllable == "바"
    assert result.serial == "3456"


def test_two_row_plate_without_region_read_top_row_first_is_a_7char_plate() -> None:
    result = parse("12가\n3456")
    assert result.valid
    assert result.format == "7char"


def test_two_row_plate_read_bottom_row_first_is_invalid() -> None:
    assert not is_valid("바3456\n서울12")


@pytest.mark.parametrize("region", REGIONS, ids=list(REGIONS))
def test_every_region_parses_on_a_regional_plate(region: str) -> None:
    result = parse(f"{region}34사8175")
    assert result.valid
    assert result.format == "regional"
    assert result.region == region
    assert result.text == f"{region}34사8175"
    assert result.usage == "commercial"


def test_regions_are_the_seventeen_provincial_level_names() -> None:
    assert len(REGIONS) == len(set(REGIONS)) == 17
    assert all(len(region) == 2 for region in REGIONS)


USAGE_CASES = [
    *((s, "private", "비사업용") for s in PRIVATE),
    *((s, "commercial", "사업용") for s in "바사아자"),
    ("배", "delivery", "택배"),
    *((s, "rental", "렌터카") for s in "하허호"),
    *((s, "military", "군용") for s in "육해공국합"),
]


@pytest.mark.parametrize(
    ("syllable", "usage", "label"), USAGE_CASES, ids=[f"{c[0]}-{c[1]}" for c in USAGE_CASES]
)
def test_each_usage_syllable_maps_to_its_usage_category(
    syllable: str, usage: str, label: str
) -> None:
    for plate in (f"12{syllable}3456", f"123{syllable}4567"):
        result = parse(plate)
        assert result.valid, plate
        assert result.syllable == syllable
        assert result.usage == usage
        assert result.usage_label == label
        assert result.region is None


@pytest.mark.parametrize("prefix", DIPLOMATIC_PREFIXES, ids=list(DIPLOMATIC_PREFIXES))
def test_every_diplomatic_prefix_parses_with_mission_and_rank(prefix: str) -> None:
    result = parse(f"{prefix} 005-003")
    assert result.valid
    assert result.text == f"{prefix}005003"
    assert result.format == "diplomatic"
    assert result.syllable == prefix
    assert result.digits_front == "005"
    assert result.serial == "003"
    assert result.usage == "diplomatic"
    assert result.usage_label == "외교"


INVALID = [
    ("", "empty"),
    ("   ", "whitespace-only"),
    ("\n\t", "line-breaks-only"),
    ("12가345", "serial-too-short"),
    ("12가34567", "serial-too-long"),
    ("1가3456", "front-too-short"),
    ("1234가5678", "front-too-long"),
    ("12가3456가", "trailing-syllable"),
    ("12각3456X", "trailing-latin"),
    ("12카3456X", "trailing-latin-after-lookalike"),
    ("12갑3456", "syllable-with-final-consonant"),
    ("12하3456 1", "extra-digit"),
    ("12A3456", "latin-syllable"),
    ("12O3456", "o-in-syllable-position"),
    ("1203456", "digit-in-syllable-position"),
    ("1234567", "all-digits"),
    ("12가나3456", "two-syllables"),
    ("12차3456X", "old-commercial-syllable-with-trailing"),
    ("12쀍3456", "unrelated-syllable"),
    ("12매3456", "ambiguous-lookalike-ma-or-bae"),
    ("12베3456", "ambiguous-lookalike-beo-or-bae"),
    ("12가0000", "serial-0000"),
    ("123가0000", "8char-serial-0000"),
    ("서울12가0000", "regional-serial-0000"),
    ("00가1234", "vehicle-class-00"),
    ("023가4567", "three-digit-class-starting-with-0"),
    ("평양12가3456", "unknown-region"),
    ("서울시12가3456", "region-with-suffix"),
    ("서12가3456", "half-region"),
    ("서울123가4567", "regional-with-three-digits"),
    ("서울가3456", "regional-without-digits"),
    ("서울12육3456", "military-on-regional-plate"),
    ("울서12가3456", "region-reversed"),
    ("외교12345", "diplomatic-too-short"),
    ("외교1234567", "diplomatic-too-long"),
    ("외교000123", "diplomatic-mission-000"),
    ("외교123000", "diplomatic-rank-000"),
    ("외무123456", "unknown-diplomatic-prefix"),
    ("123456외교", "diplomatic-prefix-last"),
    ("ABC1234", "western-plate"),
    ("가3456", "no-front-digits"),
    ("12가", "no-serial"),
    ("12가3456\n서울", "region-below"),
]


@pytest.mark.parametrize(("text", "why"), INVALID, ids=[case[1] for case in INVALID])
def test_rejects_a_string_that_fits_no_plate_format(text: str, why: str) -> None:
    result = parse(text)
    assert not result.valid, why
    assert result.format is None
    assert result.usage is None
    assert result.usage_label is None
    assert result.region is None
    assert result.corrections == ()
    assert not is_valid(text)


@pytest.mark.parametrize(("text", "why"), INVALID, ids=[case[1] for case in INVALID])
def test_correct_leaves_an_invalid_string_only_normalised(text: str, why: str) -> None:
    assert correct(text) == normalize(text), why


DIGIT_FIXES = [
    ("I2가3456", "12가3456", "I→1 at position 1"),
    ("l2가3456", "12가3456", "L→1 at position 1"),
    ("|2가3456", "12가3456", "|→1 at position 1"),
    ("12가34S6", "12가3456", "S→5 at position 6"),
    ("12가3456".replace("6", "G"), "12가3456", "G→6 at position 7"),
    ("1Z가3456", "12가3456", "Z→2 at position 2"),
    ("12가B456", "12가8456", "B→8 at position 4"),
    ("12가O101", "12가0101", "O→0 at position 4"),
    ("12가D101", "12가0101", "D→0 at position 4"),
    ("12가T777", "12가7777", "T→7 at position 4"),
    ("12가3A56", "12가3456", "A→4 at position 5"),
    ("12가ㅣ234", "12가1234", "ㅣ→1 at position 4"),
    ("I23가4567", "123가4567", "I→1 at position 1"),
    ("서울I2가3456", "서울12가3456", "I→1 at position 3"),
    ("외교 OO5-OO3", "외교005003", "O→0 at position 3"),
]


@pytest.mark.parametrize(
    ("text", "fixed", "note"), DIGIT_FIXES, ids=[c[0].replace("|", "pipe") for c in DIGIT_FIXES]
)
def test_latin_look_alikes_become_digits_where_a_digit_must_be(
    text: str, fixed: str, note: str
) -> None:
    result = parse(text)
    assert result.valid
    assert result.text == fixed
    assert note in result.corrections
    assert correct(text) == fixed


def test_each_corrected_character_is_reported_once() -> None:
    result = parse("I2가OOO1")
    assert result.text == "12가0001"
    assert len(result.corrections) == 4


def test_s_at_a_digit_position_does_not_rescue_an_otherwise_invalid_string() -> None:
    assert correct("12가34S") == "12가34S"
    assert not is_valid("12가34S")


def test_a_correction_that_yields_serial_0000_stays_invalid() -> None:
    assert not is_valid("12가OOOO")
    assert correct("12가OOOO") == "12가OOOO"


def test_o_in_the_syllable_position_is_not_turned_into_anything() -> None:
    result = parse("12O3456")
    assert not result.valid
    assert result.text == "12O3456"


def test_a_digit_in_the_syllable_position_is_not_turned_into_a_syllable() -> None:
    assert correct("1283456") == "1283456"


def test_latin_letters_in_a_region_are_not_corrected() -> None:
    assert not is_valid("SEOUL12가3456")


SYLLABLE_FIXES = [
    ("12갸3456", "12가3456", "갸→가"),
    ("12대3456", "12다3456", "대→다"),
    ("12빼3456", "12배3456", "빼→배"),
    ("12메3456", "12머3456", "메→머"),
    ("12파3456", "12바3456", "파→바"),
    ("12혀3456", "12허3456", "혀→허"),
    ("12욱3456", "12육3456", "욱→육"),
    ("서울12새3456", "서울12사3456", "새→사"),
]


@pytest.mark.parametrize(
    ("text", "fixed", "note"), SYLLABLE_FIXES, ids=[c[2] for c in SYLLABLE_FIXES]
)
def test_an_invalid_syllable_with_one_look_alike_is_corrected_at_the_syllable_position(
    text: str, fixed: str, note: str
) -> None:
    result = parse(text)
    assert result.valid
    assert result.text == fixed
    assert result.corrections == (f"{note} at position {text.index(note[0]) + 1}",)


@pytest.mark.parametrize(
    "text", ["12바3456", "12배3456", "12마3456", "12머3456", "12다3456", "12더3456"]
)
def test_a_valid_syllable_is_never_swapped_for_its_look_alike(text: str) -> None:
    result = parse(text)
    assert result.text == text
    assert result.corrections == ()


def test_a_look_alike_syllable_is_not_corrected_outside_the_syllable_position() -> None:
    assert not is_valid("대2가3456")


def test_look_alikes_of_a_valid_syllable_are_only_itself() -> None:
    assert lookalike_syllables("바") == ("바",)


def test_look_alikes_of_an_ambiguous_syllable_list_every_candidate() -> None:
    assert set(lookalike_syllables("베")) == {"배", "버"}


def test_look_alikes_of_a_non_hangul_character_are_empty() -> None:
    assert lookalike_syllables("O") == ()
    assert lookalike_syllables("") == ()


def test_syllables_are_the_forty_five_current_usage_syllables() -> None:
    assert len(SYLLABLES) == len(set(SYLLABLES)) == 45
    assert set(USAGE_BY_SYLLABLE) == set(SYLLABLES)
    assert len(PRIVATE) == 32


def test_charset_holds_every_character_a_valid_plate_can_contain() -> None:
    plates = [f"12{s}3456" for s in SYLLABLES]
    plates += [f"{r}12가3456" for r in REGIONS]
    plates += [f"{p}123456" for p in DIPLOMATIC_PREFIXES]
    used = set("".join(parse(p).text for p in plates)) | set(DIGIT)
    assert set(CHARSET) == used
    assert list(CHARSET) == sorted(CHARSET)
    assert len(CHARSET) == len(set(CHARSET))


def test_parse_result_is_immutable() -> None:
    result = parse("12가3456")
    with pytest.raises(AttributeError):
        result.text = "34나5678"  # type: ignore[misc]


# --- one table of formats ---------------------------------------------------------------------


@pytest.mark.parametrize("plate_format", grammar.FORMATS, ids=lambda f: f.example)
def test_each_formats_example_parses_as_that_format(plate_format):
    parsed = grammar.parse(plate_format.example)
    assert parsed.valid and parsed.format == plate_format.name
    assert len(grammar.normalize(plate_format.example)) == sum(
        2 if s.kind == "word" else 1 for s in plate_format.slots
    )


def test_the_recognisers_templates_and_the_stage2_prompt_come_from_the_format_table():
    from plate_ocr.gemini import PROMPT
    from plate_ocr.recognizer import _slot_templates

    characters = ["[blank]", *grammar.CHARSET]
    templates = _slot_templates(characters)

    assert len(templates) == len(grammar.FORMATS)
    for template, plate_format in zip(templates, grammar.FORMATS, strict=True):
        assert [len(p) for p in template] == [len(s.allowed) for s in plate_format.slots]
        last = "".join(characters[i] for position in template for i in position[-1])
        assert grammar.parse(last).format == plate_format.name
    assert all(f.example in PROMPT for f in grammar.FORMATS)


def test_short_readings_are_parsed_once_and_long_strings_are_not_kept() -> None:
    from plate_ocr import grammar

    first = grammar.parse("12가3456")
    assert grammar.parse("12가3456") is first  # the same parse, from the cache
    before = grammar._parse_cached.cache_info().currsize
    chatty = "The plate reads 12가3456, I am fairly sure of it. " * 4
    assert len(chatty) > grammar.CACHED_LENGTH
    assert grammar.parse(chatty) == grammar._parse(chatty)
    assert grammar._parse_cached.cache_info().currsize == before
    assert grammar._parse_cached.cache_info().maxsize == grammar.PARSE_CACHE
