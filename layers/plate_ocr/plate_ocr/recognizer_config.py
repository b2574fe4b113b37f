"""The recogniser's own config, ``<network>.yaml`` beside its weights: its shape and its tuning.

One file, read by inference and training alike (as fast-plate-ocr keeps its plate config):
``network_params`` are the network's constructor arguments (its input size ``img_h`` x ``img_w``,
its ``slots``, its width), and ``second_look_below`` is the character probability under which a
reading is read again in two more framings. EasyOCR reads the same file (``imgH``, ``lang_list``,
``character_list``, ``network_params``) and ignores the rest. :mod:`training.export` writes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RecognizerConfig:
    """What a recogniser's yaml says about its shape and its second look."""

    network_params: Mapping[str, Any]
    second_look_below: float

    @property
    def img_h(self) -> int:
        return int(self.network_params["img_h"])

    @property
    def img_w(self) -> int:
        return int(self.network_params["img_w"])

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the network's grey input."""
        return self.img_h, self.img_w

    @classmethod
    def read(cls, path: Path) -> RecognizerConfig:
        """Raises:
        ValueError: the file lacks a key, or EasyOCR's ``imgH`` disagrees with ``img_h``.
        """
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        try:
            config = cls(dict(data["network_params"]), float(data["second_look_below"]))
            if int(data["imgH"]) != config.img_h:
                raise ValueError(f"{path.name}: imgH {data['imgH']} is not img_h {config.img_h}")
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path.name} is not a recogniser config: {exc!r}") from exc
        return config

    def to_yaml(self, characters: str, comment: str) -> str:
        """The file EasyOCR and :meth:`read` read; ``comment`` lines go last."""
        return "\n".join(
            [
                "# The plate recogniser, an EasyOCR custom network. Written by training/export.py.",
                f"imgH: {self.img_h}",
                "lang_list: ['ko']",
                # json-style quoting keeps the Hangul readable and is valid YAML.
                f"character_list: {json.dumps(characters, ensure_ascii=False)}",
                "network_params:",
                *(f"  {key}: {value}" for key, value in self.network_params.items()),
                f"second_look_below: {self.second_look_below}",
                comment,
                "",
            ]
        )


@lru_cache(maxsize=4)
def read_config(model_dir: Path, network: str) -> RecognizerConfig:
    """The config of ``network`` in ``model_dir`` (read once per process)."""
    return RecognizerConfig.read(Path(model_dir) / f"{network}.yaml")


def configured() -> RecognizerConfig:
    """The config of the recogniser the settings name (``model_dir``, ``recog_network``)."""
    from plate_ocr.config import get_settings

    settings = get_settings()
    return read_config(settings.model_dir, settings.recog_network)
