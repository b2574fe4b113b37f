"""Training data: a pool of pre-rendered synthetic plates, and the real ``train`` split with
augmentation.

Rendering a degraded plate costs about 10 ms of CPU, more than a training step costs per image, so
synthetic plates are rendered ahead into shards (``runs/<run>/pool/shard_*.npz``, model-input
size, about 5 KB each) by ``python -m training.dataset``, which ``training.train`` starts in the
background and whose shards it picks up as they appear. Shards are deterministic per index (seeded
by the index), so a pool can be rebuilt exactly.

Only ``split=train`` rows of the real data set are ever read here; ``val`` is for evaluation only.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from plate_ocr.evaluate import motion_blur
from plate_ocr.layout import TWO_ROW_MAX_ASPECT
from plate_ocr.recognizer import to_model_input
from training.synth import night, sensor

DATASET = Path(
    os.environ.get(
        "PLATE_DATASET", Path(__file__).resolve().parents[2] / "shared" / "datasets" / "kr-plates"
    )
)
SHARD_SIZE = 2000
NEGATIVE_P = 0.12
"""Share of squarish crops served in the wrong layout (one-row split in two, or two-row read as one)
with an empty label: the recogniser reads squarish crops both ways and keeps the reading that is
there, so the wrong layout should produce no characters at all."""

# Real train crops that are two-row plates (checked by eye): the manifest has no layout column.
TWO_ROW_TRAIN_LABELS = frozenset(
    {"25조8930", "서울46거1127", "경기71아1448", "80라4117", "02주7732", "43나3442", "04두8288"}
)


@dataclass(frozen=True)
class RealCrop:
    """A real plate crop of the data set with its label."""

    path: Path
    label: str
    plate_type: str
    image: np.ndarray
    two_row: bool = False


def load_real(split: str, kind: str = "crop") -> list[RealCrop]:
    """Real plate crops: ``val`` (kr-plates val, measurement only), ``train`` (kr-plates train
    crops and the accepted plates of the unlabelled scenes, both without the dev split) or ``dev``
    (the dev split of both: never trained on, for choices)."""
    from training.scenes import is_dev

    rows = []
    with open(DATASET / "manifest.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["kind"] != kind:
                continue
            if split == "val":
                if row["split"] != "val":
                    continue
            elif row["split"] != "train" or is_dev(row["path"]) != (split == "dev"):
                continue
            img = cv2.imread(str(DATASET / row["path"]), cv2.IMREAD_COLOR)
            if img is None:
                continue
            two_row = row["label"] in TWO_ROW_TRAIN_LABELS
            rows.append(
                RealCrop(DATASET / row["path"], row["label"], row["plate_type"], img, two_row)
            )
    if split in ("train", "dev") and kind == "crop":
        rows += scene_crops(split)
    return rows


def scene_crops(split: str) -> list[RealCrop]:
    """Plates of the unlabelled scenes that a person accepted (``training.pseudo``), cut out the
    way the pipeline cuts a detected plate (:func:`plate_ocr.locate.geometry.rectify`)."""
    import json

    from plate_ocr import grammar
    from plate_ocr.locate.geometry import ONE_ROW_MIN_ASPECT, quad_aspect, rectify
    from training.pseudo import TEXTS
    from training.scenes import SCENES, is_dev

    if not TEXTS.is_file():
        return []
    out = []
    for name, plates in sorted(json.loads(TEXTS.read_text(encoding="utf-8")).items()):
        if is_dev(name) != (split == "dev") or not plates:
            continue
        photo = cv2.imread(str(SCENES / name), cv2.IMREAD_COLOR)
        for plate in plates:
            quad = tuple(tuple(p) for p in plate["quad"])
            parsed = grammar.parse(plate["text"])
            two_row = parsed.format == "regional" and quad_aspect(quad) < ONE_ROW_MIN_ASPECT
            plate_type = parsed.format if parsed.format in ("7char", "8char") else "regional"
            crop = rectify(photo, quad)  # type: ignore[arg-type]
            out.append(RealCrop(SCENES / name, parsed.text, plate_type, crop, two_row))
    return out


def augment_real(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Heavy augmentation of a real crop: re-crop, perspective, light, blur, resolution, JPEG."""
    h, w = img.shape[:2]
    pad = int(max(h, w) * 0.15)
    big = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    src = np.float32([[pad, pad], [pad + w, pad], [pad + w, pad + h], [pad, pad + h]])
    jit = rng.uniform(-1, 1, (4, 2)).astype(np.float32) * np.float32([w * 0.06, h * 0.1])
    dst = src + jit
    M = cv2.getPerspectiveTransform(dst, src)
    warped = cv2.warpPerspective(
        big, M, (big.shape[1], big.shape[0]), borderMode=cv2.BORDER_REPLICATE
    )
    x0 = int(np.clip(pad + rng.uniform(-0.04, 0.05) * w, 0, big.shape[1] - 4))
    x1 = int(np.clip(pad + w + rng.uniform(-0.05, 0.04) * w, x0 + 4, big.shape[1]))
    y0 = int(np.clip(pad + rng.uniform(-0.08, 0.08) * h, 0, big.shape[0] - 4))
    y1 = int(np.clip(pad + h + rng.uniform(-0.08, 0.08) * h, y0 + 4, big.shape[0]))
    out = warped[y0:y1, x0:x1].astype(np.float32)
    out *= rng.uniform(0.7, 1.2, 3)[None, None, :]
    out = (out - 128) * rng.uniform(0.5, 1.3) + 128 + rng.uniform(-50, 40)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        f = rng.uniform(0.3, 1.0)
        sw, sh = max(16, int(out.shape[1] * f)), max(8, int(out.shape[0] * f))
        out = cv2.resize(
            cv2.resize(out, (sw, sh), interpolation=cv2.INTER_AREA), (out.shape[1], out.shape[0])
        )
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.2))
    elif rng.random() < 0.3:
        length = round(out.shape[1] * rng.uniform(0.01, 0.07))
        if length >= 2:
            out = motion_blur(out, length, float(rng.normal(0, 12)))
    if rng.random() < 0.12:
        out = night(rng, out)
    return sensor(rng, out, noise=(0.5, 2, 10), jpeg=(0.5, 20, 90))


class RealTrain:
    """The real ``train`` split, served augmented at model-input size."""

    def __init__(self) -> None:
        self.items = load_real("train")

    def __len__(self) -> int:
        return len(self.items)

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        item = self.items[int(rng.integers(len(self.items)))]
        img = augment_real(rng, item.image)
        two_row = item.two_row
        h, w = img.shape[:2]
        if w / h < TWO_ROW_MAX_ASPECT and rng.random() < NEGATIVE_P:
            return to_model_input(img, not two_row), ""
        return to_model_input(img, two_row), item.label


def render_shard(index: int, size: int = SHARD_SIZE) -> tuple[np.ndarray, list[str], list[str]]:
    """Renders synthetic shard ``index`` (deterministic: seeded by the index)."""
    from training.synth import make_plate

    rng = np.random.default_rng(1_000_003 * (index + 1))
    xs, labels, kinds = [], [], []
    for _ in range(size):
        p = make_plate(rng)
        h, w = p.image.shape[:2]
        if w / h < TWO_ROW_MAX_ASPECT and rng.random() < NEGATIVE_P:
            # The layout the recogniser will also try on this crop, which must read as nothing.
            xs.append(to_model_input(p.image, not p.two_row))
            labels.append("")
            kinds.append(p.kind + ":wrong-layout")
        else:
            xs.append(to_model_input(p.image, p.two_row))
            labels.append(p.label)
            kinds.append(p.kind)
    return np.stack(xs), labels, kinds


def write_pool(pool: Path, first: int, count: int) -> None:
    """Renders shards ``first .. first+count-1`` into ``pool`` (skipping those already there)."""
    pool.mkdir(parents=True, exist_ok=True)
    for i in range(first, first + count):
        path = pool / f"shard_{i:04d}.npz"
        if path.exists():
            continue
        t = time.time()
        x, labels, kinds = render_shard(i)
        tmp = pool / f".shard_{i:04d}.tmp.npz"
        np.savez(tmp, x=x, labels=np.array(labels), kinds=np.array(kinds))
        tmp.rename(path)
        print(f"shard {i} written in {time.time() - t:.0f}s", flush=True)


class SynthPool:
    """The shards rendered so far, held in memory; ``refresh`` loads newly finished ones."""

    def __init__(self, pools: list[Path]) -> None:
        self.pools = pools
        self.loaded: set[str] = set()
        self.x: list[np.ndarray] = []
        self.labels: list[str] = []
        self._cat: np.ndarray | None = None

    def refresh(self) -> int:
        new = 0
        for path in sorted(p for pool in self.pools for p in pool.glob("shard_*.npz")):
            if str(path) in self.loaded:
                continue
            with np.load(path) as z:
                self.x.append(z["x"])
                self.labels.extend(str(s) for s in z["labels"])
            self.loaded.add(str(path))
            new += 1
        if new:
            self._cat = np.concatenate(self.x)
            self.x = [self._cat]
        return new

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, list[str]]:
        assert self._cat is not None
        idx = rng.integers(0, len(self.labels), n)
        return self._cat[idx], [self.labels[i] for i in idx]


def _main() -> None:
    ap = argparse.ArgumentParser(description="Render synthetic plate shards.")
    ap.add_argument("--pool", type=Path, required=True)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--count", type=int, default=100)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    write_pool(args.pool, args.first, args.count)


if __name__ == "__main__":
    _main()
