"""The plate-ocr command line with a fake pipeline: JSON lines, per-photo errors, eval summary."""

from __future__ import annotations

import csv
import io
import json

import pytest
from PIL import Image

from plate_ocr import cli, config, lifecycle
from plate_ocr.config import Settings
from plate_ocr.pipeline import Pipeline
from tests.support.calibration import weakest_char
from tests.support.fakes import FakeLocator, FakeRecognizer, reading


@pytest.fixture
def fake_pipeline(monkeypatch):
    def install(readings):
        pipeline = Pipeline(
            [FakeLocator()], FakeRecognizer(readings=readings), weakest_char, settings=Settings()
        )
        monkeypatch.setattr(lifecycle, "get_pipeline", lambda: pipeline)
        return pipeline

    return install


def write_photo(path, size=(120, 40), grey=230):
    buf = io.BytesIO()
    Image.new("RGB", size, (grey, grey, grey)).save(buf, "JPEG")
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
    assert code == 1  # a photo could not be read (its line says why); the others still are
    assert lines[0]["plate_number"] == "12가3456" and lines[0]["stage_id"] == "stage1"
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
    fake_pipeline([reading("12가3456", 0.9), reading("34나5679", 0.9), reading("34나5678", 0.3)])
    for name in "abd":
        write_photo(tmp_path / f"{name}.jpg")
    (tmp_path / "m.csv").write_text(
        "path,label,kind,plate_type,split\n"
        "a.jpg,12가3456,crop,7char,val\nb.jpg,34나5678,scene,7char,val\n"
        "c.jpg,99나9999,crop,7char,train\nd.jpg,34나5678,crop,7char,val\n",
        encoding="utf-8",
    )
    errors = tmp_path / "errors.csv"

    code = cli.main(
        ["eval", "--manifest", str(tmp_path / "m.csv"), "--split", "val", "--errors", str(errors)]
    )

    out = capsys.readouterr().out.splitlines()
    summary = json.loads(out[-1])
    assert code == 0
    assert summary["n"] == 3 and summary["exact_match"] == pytest.approx(0.6667)
    assert set(summary) == {
        "n",
        "exact_match",
        "char_accuracy",
        "coverage",
        "precision",
        "extra_plates_per_photo",
        "by_kind",
        "by_plate_type",
        "reliability",
        "latency_ms",
        "stage_counts",
    }
    # Two photos answered with success (one of them wrong); the third was unsure.
    assert (summary["coverage"], summary["precision"]) == (pytest.approx(0.6667), 0.5)
    assert summary["stage_counts"] == {"failed": 1, "stage1": 2}
    assert summary["extra_plates_per_photo"] == 1.0
    assert any(line.startswith("all") for line in out)
    assert any(line.startswith("coverage") for line in out)
    rows = list(csv.reader(errors.open(encoding="utf-8")))
    assert rows[0] == ["path", "label", "read", "confidence"]
    assert rows[1][1:] == ["34나5678", "34나5679", "0.900"]


def test_eval_with_no_matching_rows_exits_with_a_usage_error(tmp_path, fake_pipeline):
    fake_pipeline([])
    (tmp_path / "m.csv").write_text("path,label,kind,plate_type,split\n", encoding="utf-8")

    assert cli.main(["eval", "--manifest", str(tmp_path / "m.csv")]) == 2


def test_read_exits_0_when_every_photo_was_read_even_without_a_plate(
    tmp_path, fake_pipeline, capsys
):
    fake_pipeline([reading("12가3456", 0.95), None])
    photos = [str(write_photo(tmp_path / f"{i}.jpg", grey=200 + i)) for i in range(2)]

    assert cli.main(["read", *photos]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["success"] for line in lines] == [True, False]


@pytest.mark.parametrize(
    "content",
    [None, "dir", "path,label\nx.jpg,12가3456\n", b"path,label,kind\xff\n"],
    ids=["missing", "a-directory", "wrong-columns", "not-utf8"],
)
def test_eval_of_a_bad_manifest_is_a_usage_error_with_a_message(
    tmp_path, fake_pipeline, capsys, content
):
    fake_pipeline([])
    manifest = tmp_path / "m.csv"
    if content == "dir":
        manifest.mkdir()
    elif isinstance(content, bytes):
        manifest.write_bytes(content)
    elif content is not None:
        manifest.write_text(content, encoding="utf-8")

    assert cli.main(["eval", "--manifest", str(manifest)]) == 2
    assert "cannot read the manifest" in capsys.readouterr().err


def test_eval_reads_a_manifest_saved_with_a_byte_order_mark(tmp_path, fake_pipeline, capsys):
    fake_pipeline([reading("12가3456", 0.9)])
    write_photo(tmp_path / "a.jpg")
    (tmp_path / "m.csv").write_text(
        "path,label,kind,plate_type,split\na.jpg,12가3456,crop,7char,val\n", encoding="utf-8-sig"
    )

    assert cli.main(["eval", "--manifest", str(tmp_path / "m.csv")]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["exact_match"] == 1.0


def test_eval_refuses_an_errors_file_it_cannot_write_before_reading_a_photo(
    tmp_path, fake_pipeline, capsys
):
    pipeline = fake_pipeline([reading("12가3456", 0.9)])
    write_photo(tmp_path / "a.jpg")
    (tmp_path / "m.csv").write_text(
        "path,label,kind,plate_type,split\na.jpg,12가3456,crop,7char,val\n", encoding="utf-8"
    )

    code = cli.main(["eval", "--manifest", str(tmp_path / "m.csv"), "--errors", str(tmp_path)])

    assert code == 2 and "cannot write" in capsys.readouterr().err
    assert pipeline.recognizer.calls == 0


def test_eval_says_on_stderr_when_photos_could_not_be_read(tmp_path, fake_pipeline, capsys):
    fake_pipeline([reading("12가3456", 0.9)])
    write_photo(tmp_path / "a.jpg")
    (tmp_path / "m.csv").write_text(
        "path,label,kind,plate_type,split\na.jpg,12가3456,crop,7char,val\n"
        "gone.jpg,34나5678,crop,7char,val\n",
        encoding="utf-8",
    )

    assert cli.main(["eval", "--manifest", str(tmp_path / "m.csv")]) == 0
    assert "1 photo(s) could not be read" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["eval", "--manifest", "m.csv", "--limit", "0"],
        ["eval", "--manifest", "m.csv", "--limit", "-1"],
        ["serve", "--port", "99999"],
        ["serve", "--port", "-1"],
    ],
    ids=["limit-0", "limit-negative", "port-too-big", "port-negative"],
)
def test_bad_numbers_are_usage_errors(argv):
    with pytest.raises(SystemExit) as exit_:
        cli.build_parser().parse_args(argv)
    assert exit_.value.code == 2


def test_serve_on_a_taken_port_is_a_usage_error_with_a_message(capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code = cli.main(["serve", "--port", str(port)])

    assert code == 2 and "cannot listen" in capsys.readouterr().err


def test_an_invalid_setting_is_a_usage_error_with_a_message(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PLATE_OCR_MIN_CONFIDENCE", "abc")
    config.get_settings.cache_clear()
    monkeypatch.setattr(lifecycle, "_pipeline", None, raising=False)
    try:
        code = cli.main(["read", str(write_photo(tmp_path / "a.jpg"))])
    finally:
        config.get_settings.cache_clear()

    assert code == 2 and "invalid setting" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["read", "x.jpg", "-v"], ["-v", "read", "x.jpg"], ["eval", "--manifest", "m.csv", "-v"]],
    ids=["after-the-subcommand", "before-it", "after-eval"],
)
def test_verbose_works_before_or_after_the_subcommand(argv):
    assert cli.build_parser().parse_args(argv).verbose is True


def test_no_verbose_flag_means_quiet():
    assert cli.build_parser().parse_args(["read", "x.jpg"]).verbose is False


def test_read_vote_prints_one_voted_plate_for_the_frames_of_one_vehicle(
    tmp_path, fake_pipeline, capsys
):
    # GIVEN three frames of one car, each read with one character wrong (voted confidence 0.95
    # times the 2-of-3 agreement: 0.63, a success at a 0.6 threshold)
    pipeline = fake_pipeline(
        [reading("12가3458", 0.95), reading("17가3456", 0.95), reading("12나3456", 0.95)]
    )
    pipeline.settings = Settings(min_confidence=0.6, min_confidence_low_quality=0.6)  # flat frames
    photos = [str(write_photo(tmp_path / f"frame{i}.jpg", grey=200 + i)) for i in range(3)]

    # WHEN they are read with --vote
    code = cli.main(["read", "--vote", *photos])

    # THEN one JSON object answers the voted plate and lists each frame
    (line,) = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    assert code == 0
    assert record["paths"] == photos and record["plate_number"] == "12가3456"
    assert [f["filename"] for f in record["frames"]] == ["frame0.jpg", "frame1.jpg", "frame2.jpg"]


def test_read_vote_takes_at_most_eight_photos(tmp_path, fake_pipeline):
    photos = [str(write_photo(tmp_path / f"{i}.jpg")) for i in range(9)]

    with pytest.raises(SystemExit) as exited:
        cli.main(["read", "--vote", *photos])

    assert exited.value.code == 2
