"""The synthetic plate generator renders every plate kind with valid, well-covered labels."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

ASSETS = Path(__file__).resolve().parents[3] / "shared" / "plate-assets" / "blastak-plate-glyphs"
pytestmark = pytest.mark.skipif(not ASSETS.is_dir(), reason="../shared/plate-assets is absent")

np = pytest.importorskip("numpy")
cv2 = pytest.importorskip("cv2")


def _synth():  # imported lazily: the module reads the assets and fonts
    from training import synth

    return synth


@pytest.mark.parametrize(
    "kind",
    sorted(
        [
            "white7",
            "ev7",
            "white8",
            "holo8",
            "short7",
            "yellow2",
            "yellow1",
            "green2r",
            "green2",
            "diplo",
        ]
    ),
)
def test_every_plate_kind_renders_a_valid_plate_string(kind: str) -> None:
    from plate_ocr.grammar import parse

    synth = _synth()
    rng = np.random.default_rng(7)
    for _ in range(20):
        plate = synth.make_plate(rng, kind)
        # The generator's numbers come from the grammar's format table, in the kind's format.
        assert parse(plate.label).format == synth.KIND_FORMATS[kind], plate.label
        assert plate.image.dtype == np.uint8 and plate.image.ndim == 3
        assert plate.image.shape[0] >= 8 and plate.image.shape[1] >= 40
        assert plate.two_row == (kind in {"yellow2", "green2r", "green2"})


def test_two_row_labels_start_with_the_top_row() -> None:
    from plate_ocr.grammar import REGIONS

    synth = _synth()
    rng = np.random.default_rng(3)
    for _ in range(10):
        plate = synth.make_plate(rng, "yellow2")
        assert plate.label[:2] in REGIONS


def test_every_syllable_and_region_appears_in_a_few_thousand_labels() -> None:
    from plate_ocr.grammar import DIPLOMATIC_PREFIXES, REGIONS, SYLLABLES

    synth = _synth()
    rng = np.random.default_rng(11)
    counts: Counter[str] = Counter()
    for _ in range(3000):
        tokens = synth.random_label(rng, synth.sample_kind(rng))
        counts.update(tokens)
    rare = {t: counts[t] for t in [*SYLLABLES, *REGIONS, *DIPLOMATIC_PREFIXES] if counts[t] < 5}
    assert not rare, f"under-represented: {rare}"


def test_model_input_has_the_network_size_for_one_and_two_row_plates() -> None:
    from plate_ocr.recognizer import to_model_input
    from plate_ocr.recognizer_config import configured

    synth = _synth()
    rng = np.random.default_rng(5)
    for kind in ("white7", "yellow2"):
        plate = synth.make_plate(rng, kind)
        x = to_model_input(plate.image, plate.two_row)
        assert x.shape == configured().input_size and x.dtype == np.uint8


@pytest.mark.parametrize("weight", [0.5, 1.15])
def test_restroke_thins_or_thickens_a_glyph(weight: float) -> None:
    synth = _synth()
    glyph = synth._class_glyphs("P1-1")["korean"]["하"]
    out = synth._restroke(glyph, weight)
    # The glyph is worked on at 128 px high; compare ink shares at that size.
    base = synth._restroke(glyph, 1.0)
    small = cv2.resize(base, (out.shape[1], out.shape[0]))
    ink_out, ink_base = (out > 127).mean(), (small > 127).mean()
    assert out.shape[0] == 128
    assert (ink_out < 0.85 * ink_base) if weight < 1 else (ink_out > 1.05 * ink_base)


def test_restroke_leaves_a_normal_weight_alone() -> None:
    synth = _synth()
    glyph = synth._class_glyphs("P1-1")["korean"]["하"]
    assert synth._restroke(glyph, 1.0) is glyph
