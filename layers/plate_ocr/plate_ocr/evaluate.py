"""Accuracy bookkeeping for ``plate-ocr eval``: manifest parsing, metrics, degraded copies.

Besides exact match per kind and plate type, the summary says how far the answers can be trusted:
``coverage`` (the share of photos answered with success), ``precision`` (the share of those
answers that are exact), a reliability table (readings grouped by confidence, with how often each
group was right) and, on whole scenes, ``extra_plates_per_photo`` (plates listed beside the
labelled one). :func:`degrade` makes the blurred, night and half-resolution copies that
``plate-ocr eval --degrade`` measures on.
"""

from __future__ import annotations

import csv
import itertools
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plate_ocr.pipeline import Pipeline

MANIFEST_COLUMNS = ("path", "label", "kind", "plate_type", "split")
#: ``plate-ocr eval --degrade``: what a camera can do to the same photo.
DEGRADATIONS = ("blur", "night", "half")
#: Confidence bins of the reliability table.
BINS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


@dataclass(frozen=True)
class Sample:
    """One labelled photo of a manifest; ``box`` is its plate's outline if the manifest has it."""

    path: Path
    label: str
    kind: str
    plate_type: str
    split: str
    box: tuple[tuple[float, float], ...] | None = None


def load_manifest(
    manifest: Path, split: str | None = None, limit: int | None = None
) -> list[Sample]:
    """Reads ``path,label,kind,plate_type,split`` rows (extra columns ignored).

    Relative paths are taken from the manifest's folder.

    Raises:
        ValueError: a required column is missing.
    """
    # utf-8-sig: a manifest saved by a spreadsheet starts with a byte-order mark.
    with manifest.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{manifest} lacks the column(s): {', '.join(missing)}")
        samples = []
        for row in reader:
            if split is not None and row["split"] != split:
                continue
            path = Path(row["path"])
            samples.append(
                Sample(
                    path=path if path.is_absolute() else manifest.parent / path,
                    label=row["label"].replace(" ", ""),
                    kind=row["kind"],
                    plate_type=row["plate_type"],
                    split=row["split"],
                    box=_parse_box(row.get("box") or ""),
                )
            )
    return samples[:limit] if limit is not None else samples


def _parse_box(text: str) -> tuple[tuple[float, float], ...] | None:
    """``"x,y x,y x,y x,y"`` as corners; None when empty or malformed."""
    try:
        corners = tuple((float(x), float(y)) for x, y in (pair.split(",") for pair in text.split()))
    except ValueError:
        return None
    return corners if len(corners) == 4 else None


def degrade(image: Any, kind: str, sample: Sample, seed: int = 0) -> Any:
    """A copy of a decoded BGR photo as a worse camera would have taken it.

    ``blur``: horizontal motion blur (within 10 degrees) over 3% of the plate's width: the car
    moved a third of a character during the exposure. The plate's width comes from the
    manifest's box, else from the photo (a crop is mostly plate; on a scene without a box a plate
    is taken as a fifth of the width). ``night``: a third of the light, gamma 1.5, sensor noise
    (sigma 6) and JPEG at quality 70. ``half``: half the resolution (area-averaged).
    Deterministic per photo and ``seed``.
    """
    import cv2
    import numpy as np

    if kind not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {kind!r}; expected one of {', '.join(DEGRADATIONS)}")
    rng = np.random.default_rng([seed, *sample.path.name.encode()])
    h, w = image.shape[:2]
    if kind == "half":
        return cv2.resize(image, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
    if kind == "night":
        dark = 255.0 * (image.astype(np.float32) / 255.0) ** 1.5 * 0.33
        dark += rng.normal(0.0, 6.0, dark.shape)
        out = np.clip(dark, 0, 255).astype(np.uint8)
        ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 70])
        return cv2.imdecode(enc, cv2.IMREAD_COLOR) if ok else out
    # Motion blur.
    if sample.box is not None:
        pts = np.array(sample.box)
        plate_w = float(np.linalg.norm(pts[1] - pts[0]) + np.linalg.norm(pts[2] - pts[3])) / 2
    else:
        plate_w = w * (0.9 if sample.kind == "crop" else 0.2)
    return motion_blur(image, max(3, round(0.03 * plate_w)), float(rng.uniform(-10.0, 10.0)))


def motion_blur(image: Any, length: int, angle: float) -> Any:
    """``image`` smeared along a line of ``length`` pixels at ``angle`` degrees (0: horizontal)."""
    import cv2
    import numpy as np

    length = max(2, int(length))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rot, (length, length))
    return cv2.filter2D(image, -1, kernel / max(float(kernel.sum()), 1e-6))


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def char_accuracy(label: str, read: str) -> float:
    """1 - edit distance / label length, floored at 0."""
    if not label:
        return 1.0 if not read else 0.0
    return max(0.0, 1.0 - edit_distance(label, read) / len(label))


@dataclass(frozen=True)
class Outcome:
    """What the pipeline answered for one labelled photo."""

    sample: Sample
    read: str
    success: bool
    confidence: float | None
    stage: str
    latency_ms: float
    plates: tuple[str, ...] = ()

    @property
    def exact(self) -> bool:
        return self.read == self.sample.label


@dataclass
class Tally:
    """Running totals of an evaluation."""

    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def misreads(self) -> list[tuple[str, str, str, str]]:
        """(path, label, read, confidence) of every photo not read exactly."""
        return [
            (
                str(o.sample.path),
                o.sample.label,
                o.read,
                "" if o.confidence is None else f"{o.confidence:.3f}",
            )
            for o in self.outcomes
            if not o.exact
        ]

    def summary(self) -> dict[str, Any]:
        rows = self.outcomes
        n = len(rows)
        groups: dict[str, dict[str, list[bool]]] = {
            "kind": defaultdict(list),
            "type": defaultdict(list),
        }
        for o in rows:
            groups["kind"][o.sample.kind].append(o.exact)
            groups["type"][o.sample.plate_type].append(o.exact)

        def table(hits: dict[str, list[bool]]) -> dict[str, dict[str, float | int]]:
            return {
                k: {"n": len(v), "exact_match": round(sum(v) / len(v), 4)}
                for k, v in sorted(hits.items())
            }

        answered = [o for o in rows if o.success]
        scenes = [o for o in rows if o.sample.kind == "scene"]
        extra = sum(sum(p != o.sample.label for p in o.plates) for o in scenes)
        latencies = [o.latency_ms for o in rows]
        return {
            "n": n,
            "exact_match": _share(sum(o.exact for o in rows), n),
            "char_accuracy": (
                round(statistics.fmean(char_accuracy(o.sample.label, o.read) for o in rows), 4)
                if n
                else 0.0
            ),
            "coverage": _share(len(answered), n),
            "precision": _share(sum(o.exact for o in answered), len(answered)),
            "extra_plates_per_photo": _share(extra, len(scenes)),
            "by_kind": table(groups["kind"]),
            "by_plate_type": table(groups["type"]),
            "reliability": reliability(rows),
            "latency_ms": {
                "p50": round(percentile(latencies, 50), 2),
                "p95": round(percentile(latencies, 95), 2),
            },
            "stage_counts": dict(sorted(Counter(o.stage for o in rows).items())),
        }


def measure(pipeline: Pipeline, sample: Sample, degradation: str | None = None) -> Outcome:
    """Stage 1 on one labelled photo (optionally a degraded copy of it), as ``plate-ocr eval``
    counts it: the answer's plate, or the best unsure reading when it failed."""
    import time

    from plate_ocr.errors import PlateOcrError

    started = time.perf_counter()
    try:
        if degradation:
            from plate_ocr.imaging import decode_image

            settings = pipeline.settings
            image = decode_image(
                sample.path.read_bytes(),
                max_bytes=settings.max_image_bytes,
                max_pixels=settings.max_image_pixels,
            )
            image = degrade(image, degradation, sample)
            started = time.perf_counter()
            result = pipeline.read_image(image, use_fallback=False)
        else:
            result = pipeline.read(sample.path.read_bytes(), use_fallback=False)
    except (PlateOcrError, OSError) as exc:
        return Outcome(sample, "", False, None, f"error:{type(exc).__name__}", 0.0)
    top = result.plates[0] if result.plates else None
    return Outcome(
        sample,
        read=result.plate_number or (top.plate_number if top else ""),
        success=result.success,
        confidence=result.confidence if result.success else (top.confidence if top else None),
        stage=result.stage.value,
        latency_ms=(time.perf_counter() - started) * 1000.0,
        plates=tuple(p.plate_number for p in result.plates),
    )


def reliability(rows: list[Outcome]) -> list[dict[str, float | int | str]]:
    """Readings grouped by confidence (photos with no reading at all are left out); see
    :func:`reliability_table`."""
    read = [o for o in rows if o.confidence is not None]
    return reliability_table([o.confidence or 0.0 for o in read], [o.exact for o in read])


def reliability_table(
    confidences: Sequence[float], right: Sequence[bool]
) -> list[dict[str, float | int | str]]:
    """How many readings fall in each confidence bin, their mean confidence, and how many of them
    were right: a calibrated reader's ``accuracy`` matches ``mean_confidence`` in every bin."""
    out: list[dict[str, float | int | str]] = []
    for lo, hi in itertools.pairwise(BINS):
        inside = [
            (c, r)
            for c, r in zip(confidences, right, strict=True)
            if lo <= c < hi or (hi == BINS[-1] and c == hi)
        ]
        if not inside:
            continue
        out.append(
            {
                "bin": f"{lo:.2f}-{hi:.2f}",
                "n": len(inside),
                "mean_confidence": round(statistics.fmean(c for c, _ in inside), 4),
                "accuracy": _share(sum(r for _, r in inside), len(inside)),
            }
        )
    return out


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile with linear interpolation (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
