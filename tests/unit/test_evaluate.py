"""Evaluation metrics and manifest parsing."""

from __future__ import annotations

import json

import pytest

from plate_ocr.evaluate import Tally, char_accuracy, edit_distance, load_manifest, percentile


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


def test_summary_groups_by_kind_and_type(tmp_path):
    (tmp_path / "m.csv").write_text(
        "path,label,kind,plate_type,split\n"
        "a.jpg,12가3456,crop,7char,val\nb.jpg,서울12바3456,scene,regional,val\n",
        encoding="utf-8",
    )
    a, b = load_manifest(tmp_path / "m.csv")
    tally = Tally()
    tally.add(a, "12가3456", "stage1", 10.0)
    tally.add(b, "서울12바3457", "stage1", 30.0)

    summary = json.loads(json.dumps(tally.summary()))

    assert summary["n"] == 2 and summary["exact_match"] == 0.5
    assert summary["by_kind"] == {
        "crop": {"n": 1, "exact_match": 1.0},
        "scene": {"n": 1, "exact_match": 0.0},
    }
    assert summary["by_plate_type"]["regional"]["exact_match"] == 0.0
    assert summary["latency_ms"] == {"p50": 20.0, "p95": 29.0}
    assert tally.misreads() == [(str(b.path), "서울12바3456", "서울12바3457")]
