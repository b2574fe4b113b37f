"""The characters the recogniser reads, grouped the way the synthetic generator needs them.

Everything comes from :mod:`plate_ocr.grammar`, the one source of truth for the grammar and the
model; the groups below are what plates are composed from.
"""

from __future__ import annotations

from plate_ocr import grammar

DIGITS = grammar.DIGIT
PRIVATE = grammar.PRIVATE_SYLLABLES
#: Commercial plates and delivery (배) are drawn as one group by the generator.
COMMERCIAL = grammar.COMMERCIAL_SYLLABLES + grammar.DELIVERY_SYLLABLES
RENTAL = grammar.RENTAL_SYLLABLES
MILITARY = grammar.MILITARY_SYLLABLES
REGIONS = list(grammar.REGIONS)
DIPLOMATIC = list(grammar.DIPLOMATIC_PREFIXES)


def _local_charset() -> str:
    chars = (
        DIGITS + PRIVATE + COMMERCIAL + RENTAL + MILITARY + "".join(REGIONS) + "".join(DIPLOMATIC)
    )
    return "".join(dict.fromkeys(chars))


CHARSET = "".join(dict.fromkeys(grammar.CHARSET))

if set(CHARSET) != set(_local_charset()):
    raise RuntimeError("plate_ocr.grammar.CHARSET and training.charset groups disagree")
