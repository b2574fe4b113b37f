"""plate_class on the val split (real models, real photos), against classes labelled by eye.

``tests/data/val_plate_classes.csv`` holds each val photo's class, labelled from contact sheets of
the photos (path and class only; no plate numbers): 94 white, 16 green_old, 8 yellow_commercial
(five in greyscale or infrared photos, told by their layout), 3 ev, 1 military. A photo counts as
right when the first plate the pipeline lists has the labelled class; a photo where no plate is
read counts as wrong. Measured figures and the failures: README, "Plate class".
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from plate_ocr.plate_class import PlateClass

LABELS = Path(__file__).resolve().parents[1] / "data" / "val_plate_classes.csv"
SHARED = Path(__file__).resolve().parents[3] / "shared"
MANIFEST = SHARED / "datasets" / "kr-plates" / "manifest.csv"
#: A little under the share measured on the val photos (every photo counts): 98.4% (2026-12-01).
FLOOR = 0.96
#: A little under the share measured among the photos where a plate was read: 100%.
FLOOR_WHERE_READ = 0.98


def labels() -> dict[str, str]:
    with LABELS.open(newline="", encoding="utf-8") as fh:
        return {row["path"]: row["plate_class"] for row in csv.DictReader(fh)}


def test_every_label_is_a_plate_class():
    assert set(labels().values()) <= {c.value for c in PlateClass}


@pytest.mark.skipif(not MANIFEST.is_file(), reason="../shared/datasets/kr-plates is absent")
def test_every_val_photo_is_labelled_and_nothing_else():
    from plate_ocr.evaluate import load_manifest

    val = {str(s.path.relative_to(MANIFEST.parent)) for s in load_manifest(MANIFEST, split="val")}

    assert set(labels()) == val


@pytest.fixture(scope="module")
def predictions() -> dict[str, str | None]:
    from plate_ocr import lifecycle
    from plate_ocr.errors import ModelUnavailableError

    try:
        pipeline = lifecycle.get_pipeline()
    except ModelUnavailableError as exc:
        pytest.skip(str(exc))
    found: dict[str, str | None] = {}
    for path in labels():
        result = pipeline.read((MANIFEST.parent / path).read_bytes(), use_fallback=False)
        found[path] = result.plates[0].plate_class.value if result.plates else None
    return found


@pytest.mark.slow
@pytest.mark.skipif(not MANIFEST.is_file(), reason="../shared/datasets/kr-plates is absent")
def test_plate_class_accuracy_on_val_stays_above_its_floor(predictions):
    truth = labels()
    wrong = {p: (truth[p], got) for p, got in predictions.items() if got != truth[p]}
    read = {p: got for p, got in predictions.items() if got is not None}
    right_where_read = sum(got == truth[p] for p, got in read.items())

    accuracy = 1 - len(wrong) / len(truth)
    print(
        f"\nPLATE CLASS {len(truth) - len(wrong)}/{len(truth)} ({accuracy:.1%}); where a plate "
        f"was read {right_where_read}/{len(read)}; wrong: {sorted(wrong.items())}"
    )
    assert accuracy >= FLOOR, wrong
    assert right_where_read / max(len(read), 1) >= FLOOR_WHERE_READ, wrong
