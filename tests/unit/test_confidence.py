"""The confidence calibration: evidence in, a probability of being right out."""

from __future__ import annotations

import json
import math

import pytest

from plate_ocr.confidence import FEATURES, Calibration, features


def test_features_are_the_weakest_character_the_mean_log_probability_and_the_region():
    weakest, mean_log, region, reframed = features([0.9, 0.5, 0.99], 0.8)

    assert weakest == pytest.approx(math.log(0.5 / 0.5))
    assert mean_log == pytest.approx((math.log(0.9) + math.log(0.5) + math.log(0.99)) / 3)
    assert region == pytest.approx(math.log(0.8 / 0.2))
    assert reframed == 0.0
    assert features([0.9, 0.5, 0.99], 0.8, reframed_differs=True)[3] == 1.0


def test_certain_or_empty_evidence_stays_finite():
    assert all(math.isfinite(f) for f in features([1.0, 1.0], 1.0))
    assert all(math.isfinite(f) for f in features([], 0.0))


def test_the_probability_is_a_logistic_of_the_evidence():
    calibration = Calibration((1.0, 0.0, 0.5, -2.0), -0.25)

    p = calibration([0.8, 0.95], 0.6)
    doubted = calibration([0.8, 0.95], 0.6, reframed_differs=True)

    z = -0.25 + math.log(0.8 / 0.2) + 0.5 * math.log(0.6 / 0.4)
    assert p == pytest.approx(1 / (1 + math.exp(-z)))
    assert doubted == pytest.approx(1 / (1 + math.exp(-(z - 2.0))))
    assert calibration.probability(features([0.8, 0.95], 0.6)) == pytest.approx(p)


def test_more_certain_evidence_never_means_less_confidence():
    calibration = Calibration((1.2, 0.8, 0.4, -2.0), -1.0)

    assert calibration([0.99] * 7, 0.9) > calibration([0.6] * 7, 0.9) > calibration([0.6] * 7, 0.3)


def test_a_calibration_survives_being_written_and_read(tmp_path):
    path = tmp_path / "confidence.json"
    Calibration((0.7, 1.1, 0.3, -1.5), -0.4, fitted_on="dev").write(path, dev={"n": 3})

    again = Calibration.read(path)

    assert again == Calibration((0.7, 1.1, 0.3, -1.5), -0.4, fitted_on="dev")
    assert json.loads(path.read_text(encoding="utf-8"))["dev"] == {"n": 3}


def test_a_calibration_for_other_features_is_refused(tmp_path):
    path = tmp_path / "confidence.json"
    path.write_text(json.dumps({"features": ["x"], "weights": [1.0], "bias": 0.0}))

    with pytest.raises(ValueError, match="features"):
        Calibration.read(path)
    with pytest.raises(ValueError, match=str(len(FEATURES))):
        Calibration((1.0,), 0.0)
