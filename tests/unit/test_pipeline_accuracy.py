"""Accuracy and trust floors of the whole stage-1 pipeline on the val split (real models, photos).

Measured with the shipped models (README, measurement (19), 2026-12-01: third-round detector,
close look up to 1536 px, second look from 0.7, tiny-characters bar, margin look on 256x192):
crops 98.1% (101/103), scenes 100% (19/19), regional and two-row plates 100% (10/10), characters
99.8%; 97.5% of the photos answered with success, 99.2% of those exactly right; no plate listed
beside the labelled one on the scenes.
The floors sit a few photos under, so a
regression fails CI while the figures stay deterministic (one torch thread).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from plate_ocr import lifecycle
from plate_ocr.evaluate import Tally, load_manifest, measure

MANIFEST = (
    Path(__file__).resolve().parents[3] / "shared" / "datasets" / "kr-plates" / "manifest.csv"
)
FLOORS = {"crop": 0.95, "scene": 0.89}
PLATE_TYPE_FLOORS = {"regional": 0.9}
PRECISION_FLOOR = 0.97
COVERAGE_FLOOR = 0.94
EXTRA_CEILING = 0.25

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not MANIFEST.is_file(), reason="../shared/datasets/kr-plates is absent"),
]


@pytest.fixture(scope="module")
def summary():
    pipeline = lifecycle.get_pipeline()
    tally = Tally()
    for sample in load_manifest(MANIFEST, split="val"):
        tally.add(measure(pipeline, sample))
    return tally.summary()


@pytest.mark.parametrize("kind", sorted(FLOORS), ids=sorted(FLOORS))
def test_stage1_exact_match_stays_above_its_floor(summary, kind):
    assert summary["by_kind"][kind]["exact_match"] >= FLOORS[kind], summary["by_kind"]


@pytest.mark.parametrize("plate_type", sorted(PLATE_TYPE_FLOORS), ids=sorted(PLATE_TYPE_FLOORS))
def test_stage1_exact_match_per_plate_type_stays_above_its_floor(summary, plate_type):
    by_type = summary["by_plate_type"]
    assert by_type[plate_type]["exact_match"] >= PLATE_TYPE_FLOORS[plate_type], by_type


def test_character_accuracy_stays_above_its_floor(summary):
    assert summary["char_accuracy"] >= 0.95


def test_answers_given_with_success_are_right_and_cover_most_photos(summary):
    assert summary["precision"] >= PRECISION_FLOOR, summary["reliability"]
    assert summary["coverage"] >= COVERAGE_FLOOR


def test_scenes_list_few_plates_beside_the_labelled_one(summary):
    assert summary["extra_plates_per_photo"] <= EXTRA_CEILING
