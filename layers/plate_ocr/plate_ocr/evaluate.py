"""Accuracy bookkeeping for ``plate-ocr eval``: manifest parsing and metrics."""

from __future__ import annotations

import csv
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_COLUMNS = ("path", "label", "kind", "plate_type", "split")


@dataclass(frozen=True)
class Sample:
    """One labelled photo of a manifest."""

    path: Path
    label: str
    kind: str
    plate_type: str
    split: str


def load_manifest(
    manifest: Path, split: str | None = None, limit: int | None = None
) -> list[Sample]:
    """Reads ``path,label,kind,plate_type,split`` rows (extra columns ignored).

    Relative paths are taken from the manifest's folder.

    Raises:
        ValueError: a required column is missing.
    """
    with manifest.open(newline="", encoding="utf-8") as fh:
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
                )
            )
    return samples[:limit] if limit is not None else samples


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


@dataclass
class Tally:
    """Running totals of an evaluation."""

    rows: list[tuple[Sample, str, str, float]] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    stages: Counter[str] = field(default_factory=Counter)

    def add(self, sample: Sample, read: str, stage: str, latency_ms: float) -> None:
        self.rows.append((sample, read, stage, latency_ms))
        self.latencies_ms.append(latency_ms)
        self.stages[stage] += 1

    def misreads(self) -> list[tuple[str, str, str]]:
        return [(str(s.path), s.label, read) for s, read, _, _ in self.rows if read != s.label]

    def summary(self) -> dict[str, Any]:
        n = len(self.rows)
        exact = sum(read == s.label for s, read, _, _ in self.rows)
        groups: dict[str, dict[str, list[bool]]] = {
            "kind": defaultdict(list),
            "type": defaultdict(list),
        }
        for s, read, _, _ in self.rows:
            groups["kind"][s.kind].append(read == s.label)
            groups["type"][s.plate_type].append(read == s.label)

        def table(hits: dict[str, list[bool]]) -> dict[str, dict[str, float | int]]:
            return {
                k: {"n": len(v), "exact_match": round(sum(v) / len(v), 4)}
                for k, v in sorted(hits.items())
            }

        return {
            "n": n,
            "exact_match": round(exact / n, 4) if n else 0.0,
            "char_accuracy": (
                round(statistics.fmean(char_accuracy(s.label, r) for s, r, _, _ in self.rows), 4)
                if n
                else 0.0
            ),
            "by_kind": table(groups["kind"]),
            "by_plate_type": table(groups["type"]),
            "latency_ms": {
                "p50": round(percentile(self.latencies_ms, 50), 2),
                "p95": round(percentile(self.latencies_ms, 95), 2),
            },
            "stage_counts": dict(sorted(self.stages.items())),
        }


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile with linear interpolation (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
