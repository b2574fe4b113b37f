"""The recogniser's shape and second look are read from its own yaml, which export writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from plate_ocr.recognizer_config import RecognizerConfig

MODELS = Path(__file__).resolve().parents[2] / "models"
SHIPPED = MODELS / "korplate.yaml"


def test_the_shipped_config_survives_a_write_and_a_read(tmp_path: Path) -> None:
    shipped = RecognizerConfig.read(SHIPPED)
    path = tmp_path / "korplate.yaml"

    path.write_text(shipped.to_yaml("0123", "# trained steps: 1"), encoding="utf-8")

    assert RecognizerConfig.read(path) == shipped


def test_the_written_config_has_every_key_easyocr_reads(tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    text = RecognizerConfig.read(SHIPPED).to_yaml("0123가", "# trained steps: 1")

    data = yaml.safe_load(text)

    assert {"imgH", "lang_list", "character_list", "network_params"} <= data.keys()
    assert data["imgH"] == data["network_params"]["img_h"]
    assert data["character_list"] == "0123가"


def test_a_config_whose_easyocr_height_disagrees_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        SHIPPED.read_text(encoding="utf-8").replace("imgH: ", "imgH: 1"), encoding="utf-8"
    )

    with pytest.raises(ValueError, match="imgH"):
        RecognizerConfig.read(path)


def test_the_network_the_config_describes_takes_its_input_size_and_has_its_slots() -> None:
    torch = pytest.importorskip("torch")
    import importlib.util

    config = RecognizerConfig.read(SHIPPED)
    spec = importlib.util.spec_from_file_location("korplate", MODELS / "korplate.py")
    assert spec is not None and spec.loader is not None
    korplate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(korplate)
    net = korplate.Model(5, **config.network_params).eval()

    with torch.inference_mode():
        logits = net.slot_logits(torch.zeros(1, 1, *config.input_size))

    assert tuple(logits.shape) == (1, config.network_params["slots"], 5)
