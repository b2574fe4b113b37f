"""The detector's training pieces: targets, scene patches, the loss, self-training labels, the
calibration fit."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from plate_ocr.locate.detector import decode
from training.scenes import _mirror, is_dev, targets

SHARED = Path(__file__).resolve().parents[3] / "shared"


def quad(cx: float, cy: float, w: float, h: float) -> np.ndarray:
    return np.array(
        [
            [cx - w / 2, cy - h / 2],
            [cx + w / 2, cy - h / 2],
            [cx + w / 2, cy + h / 2],
            [cx - w / 2, cy + h / 2],
        ],
        np.float32,
    )


def test_targets_decode_back_to_the_plates_corners():
    plates = [quad(100, 80, 120, 26), quad(230, 250, 60, 30)]

    t = targets(plates, [], size=320, stride=4)
    # A perfect network: the heat map as logits, the regression targets as they are.
    out = np.concatenate(
        [np.log(t["heat"] + 1e-6)[None] - np.log(1 - t["heat"] + 1e-6)[None], t["reg"]]
    )
    found = decode(out, stride=4, min_score=0.5, max_plates=8)

    assert len(found) == 2
    for corners, _ in found:
        assert min(np.abs(corners - p).max() for p in plates) < 1e-3


def test_each_plate_has_one_peak_and_regresses_only_inside_itself():
    t = targets([quad(160, 160, 200, 44)], [], size=320, stride=4)

    assert (t["heat"] == 1.0).sum() == 1
    assert t["heat"][40, 40] == 1.0
    rows, cols = np.nonzero(t["reg_w"] > 0)
    centres_x, centres_y = (cols + 0.5) * 4, (rows + 0.5) * 4
    assert rows.size > 1
    assert (np.abs(centres_x - 160) < 100).all() and (np.abs(centres_y - 160) < 22).all()


def test_ignore_regions_are_not_scored():
    t = targets([], [quad(100, 100, 80, 20)], size=320, stride=4)

    assert t["heat_w"][25, 25] == 0.0 and t["heat_w"][70, 70] == 1.0
    assert t["heat"].max() == 0.0 and t["reg_w"].max() == 0.0


def test_a_mirrored_quad_stays_clockwise_from_the_top_left():
    q = np.array([[10, 10], [60, 14], [58, 30], [12, 26]], np.float32)

    m = _mirror(q, 100)

    assert m.tolist() == [[40, 14], [90, 10], [88, 26], [42, 30]]


def test_the_dev_split_is_a_fixed_share_chosen_by_name():
    names = [f"images/{i:04d}.jpg" for i in range(2000)]
    share = sum(map(is_dev, names)) / len(names)
    assert 0.26 < share < 0.34
    assert is_dev("images/0001.jpg") == is_dev("other/0001.jpg")


def test_the_loss_is_small_for_the_targets_and_large_for_noise():
    torch = pytest.importorskip("torch")
    from training.detector import detector_loss

    t = targets([quad(100, 80, 120, 26)], [], size=128, stride=4)
    batch = {k: torch.from_numpy(v)[None] for k, v in t.items()}
    heat = torch.from_numpy(t["heat"])
    perfect = torch.cat(
        [torch.logit(heat.clamp(1e-4, 1 - 1e-4))[None], torch.from_numpy(t["reg"])]
    )[None]
    noise = torch.randn_like(perfect)

    assert detector_loss(perfect, batch)["loss"] < 0.2 * detector_loss(noise, batch)["loss"]


@pytest.mark.skipif(not (SHARED / "plate-assets").is_dir(), reason="../shared is absent")
def test_training_patches_are_deterministic_and_their_plates_lie_on_them():
    from training.scenes import load_scenes, make_sample

    scenes = load_scenes("train")
    a = make_sample(np.random.default_rng([7, 3]), scenes)
    b = make_sample(np.random.default_rng([7, 3]), scenes)

    assert np.array_equal(a.image, b.image)
    assert a.image.shape == (320, 320, 3)
    for q in a.plates:
        centre = q.mean(axis=0)
        assert 0 <= centre[0] < 320 and 0 <= centre[1] < 320


def test_accepting_a_review_writes_corners_without_plate_numbers(tmp_path):
    from training.pseudo import accept

    proposals = tmp_path / "proposals.json"
    region = {"quad": quad(50, 50, 100, 22).tolist(), "score": 0.9, "valid": True}
    proposals.write_text(
        json.dumps(
            {
                "photos": [
                    {
                        "path": "images/a.jpg",
                        "regions": [
                            {**region, "text": "12가3456", "confidence": 0.95},
                            {**region, "text": "", "valid": False, "confidence": 0.0},
                            {**region, "text": "34나5678", "confidence": 0.4, "score": 0.2},
                            {**region, "text": "56다7890", "confidence": 0.5},
                        ],
                    },
                    {"path": "images/b.jpg", "regions": [{**region, "text": "", "confidence": 0}]},
                ]
            }
        ),
        encoding="utf-8",
    )
    review = tmp_path / "review.json"
    review.write_text(
        json.dumps({"images/a.jpg": {"3": "56다7891"}, "images/b.jpg": {"skip": True}}),
        encoding="utf-8",
    )
    labels, texts = tmp_path / "labels.json", tmp_path / "texts.json"

    accept(proposals, review, 0.9, labels, texts)

    written = json.loads(labels.read_text(encoding="utf-8"))
    assert list(written["photos"]) == ["images/a.jpg"]
    entry = written["photos"]["images/a.jpg"]
    assert len(entry["plates"]) == 2 and len(entry["unsure"]) == 1
    assert not any("\uac00" <= ch <= "\ud7a3" for ch in labels.read_text(encoding="utf-8"))
    readings = json.loads(texts.read_text(encoding="utf-8"))["images/a.jpg"]
    assert sorted(r["text"] for r in readings) == ["12가3456", "56다7891"]


def test_the_calibration_fit_recovers_a_known_logistic_model():
    from training.calibrate import fit

    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (4000, 3))
    true_w, true_b = np.array([2.0, -1.0, 0.5]), 0.3
    p = 1 / (1 + np.exp(-(x @ true_w + true_b)))
    y = (rng.random(4000) < p).astype(float)

    w, b = fit(x, y, l2=0.01)

    assert np.allclose(w, true_w, atol=0.2) and math.isclose(b, true_b, abs_tol=0.15)


def test_loose_plates_teach_where_plates_are_but_not_their_corners():
    t = targets([], [], size=320, stride=4, loose=[quad(160, 160, 200, 44)])

    assert t["heat"][40, 40] == 1.0
    assert t["reg_w"].max() == 0.0


def test_a_further_round_exports_the_steps_of_every_round(tmp_path):
    torch = pytest.importorskip("torch")
    from plate_ocr.locate import net
    from plate_ocr.locate.detector import DetectorConfig
    from training.detector import export, trained_steps

    # A first round's checkpoint has its own steps; a further round started from it records them.
    first = {"step": 3000}
    second = {"step": 1500, "rounds": trained_steps(first)}
    third = {"step": 2400, "rounds": trained_steps(second)}
    assert trained_steps(first) == "3000"
    assert trained_steps(third) == "3000 + 1500 + 2400"

    params = {"width_mult": 0.25, "fpn": 16, "stride": 4}
    model = net.build(**params)
    torch.save({**third, "model": model.state_dict(), "network_params": params}, tmp_path / "c.pt")
    export(tmp_path / "c.pt", tmp_path / "out")

    config = DetectorConfig.read(tmp_path / "out" / "platedet.yaml")
    assert config.trained_steps == "3000 + 1500 + 2400"
    assert config.min_score == DetectorConfig().min_score


def test_the_shipped_detector_runs_at_the_threshold_the_export_writes():
    from plate_ocr.locate.detector import CONFIG, DetectorConfig

    shipped = DetectorConfig.read(Path(__file__).resolve().parents[2] / "models" / CONFIG)
    assert shipped.min_score == DetectorConfig().min_score


def test_the_calibration_is_not_fitted_without_the_dev_scenes(tmp_path):
    from plate_ocr.evaluate import Sample
    from training.calibrate import DevPhoto, require_scenes

    crop = DevPhoto(Sample(tmp_path / "c.jpg", "12가3456", "crop", "7char", "dev"), ("12가3456",))
    scene = DevPhoto(Sample(tmp_path / "s.jpg", "12가3456", "scene", "7char", "dev"), ("12가3456",))

    # The dev scenes' readings are local (runs/pseudo/texts.json): a fresh clone has none.
    with pytest.raises(SystemExit, match="dev-texts"):
        require_scenes([crop], tmp_path / "texts.json")
    require_scenes([crop, scene], tmp_path / "texts.json")
