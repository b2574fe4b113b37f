"""Evaluation metrics and manifest parsing."""

from __future__ import annotations

import json

import pytest

from plate_ocr.evaluate import (
    DEGRADATIONS,
    Outcome,
    Tally,
    char_accuracy,
    degrade,
    edit_distance,
    load_manifest,
    percentile,
)


@pytest.mark.parametrize(
    ("a", "b", "d"),
    [("", "", 0), ("12가3456", "12가3456", 0), ("12가3456", "12나3456", 1), ("abc", "", 3)],
    ids=["empty", "same", "one-substitution", "all-deleted"],
)
def test_edit_distance(a, b, d):
    assert edit_distance(a, b) == d


def test_char_accuracy_is_floored_at_zero():
    assert char_accuracy("12", "abcdefgh") == 0.0
    assert char_accuracy("12가3456", "12가3457") == pytest.approx(6 / 7)


def test_percentile_interpolates():
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert percentile([], 95) == 0.0


def test_manifest_paths_are_relative_to_the_manifest_and_extra_columns_ignored(tmp_path):
    (tmp_path / "m.csv").write_text(
        "path,label,kind,plate_type,split,source\n"
        "a.jpg,12가 3456,crop,7char,val,x\n"
        "/abs/b.jpg,123가4567,scene,8char,train,y\n",
        encoding="utf-8",
    )

    val = load_manifest(tmp_path / "m.csv", split="val")
    both = load_manifest(tmp_path / "m.csv")

    assert [s.path for s in val] == [tmp_path / "a.jpg"]
    assert val[0].label == "12가3456"
    assert str(both[1].path) == "/abs/b.jpg"


def test_a_manifest_without_required_columns_is_refused(tmp_path):
    (tmp_path / "m.csv").write_text("path,label\nx.jpg,1\n", encoding="utf-8")

    with pytest.raises(ValueError, match="kind"):
        load_manifest(tmp_path / "m.csv")


def outcome(sample, read, *, success=True, confidence=0.9, latency=10.0, plates=None):
    return Outcome(
        sample,
        read,
        success,
        confidence,
        "stage1" if success else "failed",
        latency,
        plates=(read,) if plates is None else plates,
    )


def test_summary_groups_by_kind_and_type(tmp_path):
    (tmp_path / "m.csv").write_text(
        "path,label,kind,plate_type,split\n"
        "a.jpg,12가3456,crop,7char,val\nb.jpg,서울12바3456,scene,regional,val\n",
        encoding="utf-8",
    )
    a, b = load_manifest(tmp_path / "m.csv")
    tally = Tally()
    tally.add(outcome(a, "12가3456", latency=10.0))
    tally.add(outcome(b, "서울12바3457", latency=30.0, confidence=0.75))

    summary = json.loads(json.dumps(tally.summary()))

    assert summary["n"] == 2 and summary["exact_match"] == 0.5
    assert summary["by_kind"] == {
        "crop": {"n": 1, "exact_match": 1.0},
        "scene": {"n": 1, "exact_match": 0.0},
    }
    assert summary["by_plate_type"]["regional"]["exact_match"] == 0.0
    assert summary["latency_ms"] == {"p50": 20.0, "p95": 29.0}
    assert tally.misreads() == [(str(b.path), "서울12바3456", "서울12바3457", "0.750")]


def test_coverage_counts_successes_and_precision_the_exact_ones_among_them(tmp_path):
    (tmp_path / "m.csv").write_text(
        "path,label,kind,plate_type,split\n"
        + "".join(f"{i}.jpg,12가345{i},crop,7char,val\n" for i in range(4)),
        encoding="utf-8",
    )
    s = load_manifest(tmp_path / "m.csv")
    tally = Tally()
    tally.add(outcome(s[0], "12가3450"))
    tally.add(outcome(s[1], "12가3459"))
    tally.add(outcome(s[2], "12가3452", success=False, confidence=0.4))
    tally.add(outcome(s[3], "", success=False, confidence=None, plates=()))

    summary = tally.summary()

    assert (summary["coverage"], summary["precision"]) == (0.5, 0.5)
    assert summary["exact_match"] == 0.5


def test_the_reliability_table_bins_readings_by_confidence(tmp_path):
    (tmp_path / "m.csv").write_text(
        "path,label,kind,plate_type,split\n"
        + "".join(f"{i}.jpg,12가345{i},crop,7char,val\n" for i in range(5)),
        encoding="utf-8",
    )
    s = load_manifest(tmp_path / "m.csv")
    tally = Tally()
    for sample, conf, right in zip(s, (0.97, 0.99, 0.92, 0.55, 1.0), (1, 1, 0, 0, 1), strict=True):
        tally.add(outcome(sample, sample.label if right else "00가0000", confidence=conf))
    tally.add(Outcome(s[0], "", False, None, "failed", 1.0))

    rows = tally.summary()["reliability"]

    assert rows == [
        {"bin": "0.50-0.60", "n": 1, "mean_confidence": 0.55, "accuracy": 0.0},
        {"bin": "0.90-0.95", "n": 1, "mean_confidence": 0.92, "accuracy": 0.0},
        {"bin": "0.95-1.00", "n": 3, "mean_confidence": 0.9867, "accuracy": 1.0},
    ]


def test_extra_plates_are_counted_on_scenes_only(tmp_path):
    (tmp_path / "m.csv").write_text(
        "path,label,kind,plate_type,split\n"
        "a.jpg,12가3456,scene,7char,val\nb.jpg,34나5678,scene,7char,val\n"
        "c.jpg,56다7890,crop,7char,val\n",
        encoding="utf-8",
    )
    a, b, c = load_manifest(tmp_path / "m.csv")
    tally = Tally()
    tally.add(outcome(a, "12가3456", plates=("12가3456", "99마9999")))
    tally.add(outcome(b, "34나5678"))
    tally.add(outcome(c, "56다7890", plates=("56다7890", "11가1111")))

    assert tally.summary()["extra_plates_per_photo"] == 0.5


def test_the_manifest_box_is_read_where_present(tmp_path):
    (tmp_path / "m.csv").write_text(
        "path,label,kind,plate_type,split,box\n"
        'a.jpg,12가3456,scene,7char,val,"1,2 3,4 5,6 7,8"\nb.jpg,12가3456,scene,7char,val,\n',
        encoding="utf-8",
    )
    a, b = load_manifest(tmp_path / "m.csv")
    assert a.box == ((1.0, 2.0), (3.0, 4.0), (5.0, 6.0), (7.0, 8.0)) and b.box is None


@pytest.mark.parametrize("kind", DEGRADATIONS)
def test_degraded_copies_are_deterministic_and_worse(tmp_path, kind):
    import cv2
    import numpy as np

    (tmp_path / "m.csv").write_text(
        "path,label,kind,plate_type,split\na.jpg,12가3456,crop,7char,val\n", encoding="utf-8"
    )
    (sample,) = load_manifest(tmp_path / "m.csv")
    photo = np.zeros((120, 480, 3), np.uint8)
    cv2.putText(photo, "12 3456", (10, 90), cv2.FONT_HERSHEY_SIMPLEX, 3, (255, 255, 255), 8)

    a, b = degrade(photo, kind, sample), degrade(photo, kind, sample)

    assert np.array_equal(a, b)
    if kind == "half":
        assert a.shape == (60, 240, 3)
    elif kind == "night":
        assert a.mean() < photo.mean() / 2
    else:
        assert cv2.Laplacian(a, cv2.CV_64F).var() < cv2.Laplacian(photo, cv2.CV_64F).var() / 2


def test_an_unknown_degradation_is_refused(tmp_path):
    (tmp_path / "m.csv").write_text(
        "path,label,kind,plate_type,split\na.jpg,12가3456,crop,7char,val\n", encoding="utf-8"
    )
    with pytest.raises(ValueError, match="blur"):
        degrade(None, "fog", load_manifest(tmp_path / "m.csv")[0])
