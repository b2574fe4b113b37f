"""The plate-ocr command line with a fake pipeline: JSON lines, per-photo errors, eval summary."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fakes import FakeLocator, FakeRecognizer, reading
from PIL import Image

from plate_ocr import cli, factory
from plate_ocr.config import Settings
from plate_ocr.pipeline import Pipeline


@pytest.fixture
def fake_pipeline(monkeypatch):
    def install(readings):
        pipeline = Pipeline(FakeLocator(), FakeRecognizer(readings), settings=Settings())
        monkeypatch.setattr(factory, "get_pipeline", lambda: pipeline)
        return pipeline

    return install


def write_photo(path, size=(120, 40)):
    buf = io.BytesIO()
    Image.new("RGB", size, (230, 230, 230)).save(buf, "JPEG")
    path.write_bytes(buf.getvalue())
    return path


def test_read_prints_one_json_object_per_photo_and_an_error_object_for_a_bad_one(
    tmp_path, fake_pipeline, capsys
):
    fake_pipeline([reading("12가3456", 0.95)])
    good = write_photo(tmp_path / "good.jpg")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a photo")
    missing = tmp_path / "missing.jpg"

    code = cli.main(["read", str(good), str(bad), str(missing)])

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert lines[0]["plate_number"] == "12가3456" and lines[0]["stage"] == "stage1"
    assert lines[0]["path"] == str(good)
    assert lines[1] == {"path": str(bad), "error": "invalid_image", "message": lines[1]["message"]}
    assert lines[2]["error"] == "unreadable_file"


def test_read_draws_a_progress_bar_on_stderr_for_many_photos(tmp_path, fake_pipeline, capsys):
    fake_pipeline([reading("12가3456")] * 5)
    photos = [str(write_photo(tmp_path / f"{i}.jpg")) for i in range(5)]

    cli.main(["read", *photos])

    captured = capsys.readouterr()
    assert "5/5" in captured.err
    assert len(captured.out.splitlines()) == 5


def test_eval_prints_a_table_and_a_json_summary_as_its_last_line(tmp_path, fake_pipeline, capsys):
    fake_pipeline([reading("12가3456", 0.9), reading("34나5679", 0.9)])
    write_photo(tmp_path / "a.jpg")
    write_photo(tmp_path / "b.jpg")
    (tmp_path / "m.csv").write_text(
        "path,label,kind,plate_type,split\n"
        "a.jpg,12가3456,crop,7char,val\nb.jpg,34나5678,scene,7char,val\n"
        "c.jpg,99나9999,crop,7char,train\n",
        encoding="utf-8",
    )
    errors = tmp_path / "errors.csv"

    code = cli.main(
        ["eval", "--manifest", str(tmp_path / "m.csv"), "--split", "val", "--errors", str(errors)]
    )

    out = capsys.readouterr().out.splitlines()
    summary = json.loads(out[-1])
    assert code == 0
    assert summary["n"] == 2 and summary["exact_match"] == 0.5
    assert set(summary) == {
        "n",
        "exact_match",
        "char_accuracy",
        "by_kind",
        "by_plate_type",
        "latency_ms",
        "stage_counts",
    }
    assert summary["stage_counts"] == {"stage1": 2}
    assert any(line.startswith("all") for line in out)
    rows = list(csv.reader(errors.open(encoding="utf-8")))
    assert rows[0] == ["path", "label", "read"] and rows[1][1:] == ["34나5678", "34나5679"]


def test_eval_with_no_matching_rows_exits_with_a_usage_error(tmp_path, fake_pipeline):
    fake_pipeline([])
    (tmp_path / "m.csv").write_text("path,label,kind,plate_type,split\n", encoding="utf-8")

    assert cli.main(["eval", "--manifest", str(tmp_path / "m.csv")]) == 2
