"""Self-training labels for the plate detector: propose, look, accept.

The photos of ``../shared/datasets/kr-scenes-unlabelled`` have no labels. Each round:

1. ``python -m training.pseudo propose --models DIR`` runs a detector (and the recogniser) over
   every photo and writes ``runs/pseudo/proposals.json``: each region with its corners, detector
   score, reading and whether the reading is a confident, grammar-valid plate. It also draws
   contact sheets (``runs/pseudo/sheets/``): every proposed crop with its number and reading, and
   each photo with its boxes, to check by eye.
2. A person looks at the sheets and writes ``runs/pseudo/review.json``: per photo,
   ``{"<k>": "plate" | "plate?" | "no" | "unsure" | "<corrected reading>", "missed": [{"quad":
   ..., "text": ...}], "skip": true}`` (``plate?``: a plate whose number cannot be read; ``skip``:
   a photo with plates nobody can outline). Proposals not named keep the automatic decision: a
   plate when the reading is valid and either confident (``--accept-above``) or the detector sure
   (0.5), unsure when the detector scored it 0.3 or more, nothing otherwise.
3. ``python -m training.pseudo accept`` writes ``training/data/scene_labels.json`` (corners and
   plate kind only: no plate numbers are committed, they are personal data) and the readings of
   the accepted plates into ``runs/pseudo/texts.json`` (local, ignored), which the dev evaluation
   and the recogniser's fine-tune read.
4. ``python -m training.pseudo texts --proposals P`` (for the recogniser's last fine-tune) replaces
   the train photos' readings in ``texts.json`` with the confident ones of fresh proposals, the
   dev photos' reviewed readings kept.

On a machine without ``texts.json`` (a fresh clone: it is local), ``propose`` and then
``python -m training.pseudo dev-texts`` read the dev photos' committed plates again and draw them
on ``runs/pseudo/sheets/dev_*.png``; what the eye finds wrong goes into
``runs/pseudo/dev_corrections.json`` and ``dev-texts`` runs again. ``training.calibrate`` and the
dev evaluation need it.

The kr-plates val split is never read here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from training.scenes import LABELS, SCENES, is_dev

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "runs" / "pseudo"
PROPOSALS = WORK / "proposals.json"
REVIEW = WORK / "review.json"
TEXTS = WORK / "texts.json"
#: The contact sheets' font (Debian's fonts-nanum: scripts/install-system-deps.sh --training).
SHEET_FONT = "/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf"


def propose(models: Path, min_score: float, out: Path) -> None:
    """Runs the detector and the recogniser over every unlabelled photo."""
    import csv

    from plate_ocr import grammar
    from plate_ocr.confidence import FILE, Calibration
    from plate_ocr.engines import PlateRegion
    from plate_ocr.locate.detector import PlateDetector
    from plate_ocr.locate.geometry import quad_iou, rectify
    from plate_ocr.pipeline import Bar, plate_from_reading
    from plate_ocr.recognizer import PlateRecognizer

    detector = PlateDetector(models)
    recognizer = PlateRecognizer(models)
    calibration = Calibration.read(models / FILE) if (models / FILE).is_file() else None
    previous = json.loads(LABELS.read_text(encoding="utf-8"))["photos"] if LABELS.is_file() else {}
    photos = []
    with open(SCENES / "manifest.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        image = cv2.imread(str(SCENES / row["path"]), cv2.IMREAD_COLOR)
        dets = [
            (d.quad, d.score) for d in detector.detect(image, max_plates=12, min_score=min_score)
        ]
        # Plates a person accepted before stay proposed even if this detector misses them.
        for plate in previous.get(row["path"], {}).get("plates", []):
            quad = tuple(tuple(p) for p in plate["quad"])
            if all(quad_iou(quad, q) < 0.3 for q, _ in dets):
                dets.append((quad, 0.0))
        regions = []
        for quad, score in dets:
            raw = recognizer.read(rectify(image, quad))
            region = PlateRegion(box=quad, crop=np.zeros((1, 1, 3), np.uint8), score=score)
            read = (
                plate_from_reading(raw, region, calibration or _weakest, Bar(0.0))
                if raw is not None
                else None
            )
            regions.append(
                {
                    "quad": [list(p) for p in quad],
                    "score": round(score, 4),
                    "text": read.plate_number if read else (raw.text if raw else ""),
                    "valid": bool(read) and grammar.is_valid(read.plate_number),
                    "confidence": read.confidence if read else 0.0,
                }
            )
        photos.append(
            {
                "path": row["path"],
                "dev": is_dev(row["path"]),
                "regions": regions,
                "notes": row["notes"],
            }
        )
        print(row["path"], [(r["text"], r["score"], r["confidence"]) for r in regions], flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"photos": photos}, ensure_ascii=False, indent=1), encoding="utf-8")


def _weakest(chars: list[float], score: float, reframed_differs: bool = False) -> float:
    return min(chars, default=0.0)


def sheets(proposals: Path, out: Path, per_sheet: int = 30) -> None:
    """Contact sheets: every proposed crop numbered with its reading, and each photo with boxes."""
    from PIL import Image, ImageDraw, ImageFont

    from plate_ocr.locate.geometry import grow_quad, warp

    font = ImageFont.truetype(SHEET_FONT, 18)
    data = json.loads(proposals.read_text(encoding="utf-8"))["photos"]
    out.mkdir(parents=True, exist_ok=True)
    tiles = []
    for n, photo in enumerate(data):
        image = cv2.imread(str(SCENES / photo["path"]), cv2.IMREAD_COLOR)
        for k, r in enumerate(photo["regions"]):
            quad = tuple(tuple(p) for p in r["quad"])
            crop = warp(image, grow_quad(quad, 0.15, 0.35), 300, 110)
            inner = cv2.perspectiveTransform(
                np.float32(quad).reshape(1, 4, 2),
                cv2.getPerspectiveTransform(
                    np.float32(grow_quad(quad, 0.15, 0.35)),
                    np.float32([[0, 0], [299, 0], [299, 109], [0, 109]]),
                ),
            )
            cv2.polylines(crop, [inner.astype(np.int32)], True, (0, 255, 0), 1)
            tile = Image.new("RGB", (300, 140), (30, 30, 30))
            tile.paste(Image.fromarray(crop[:, :, ::-1]), (0, 30))
            ImageDraw.Draw(tile).text(
                (4, 4),
                f"{n}.{k} {r['text']} {r['confidence']:.2f} d{r['score']:.2f}",
                font=font,
                fill=(120, 255, 120) if r["valid"] else (255, 160, 160),
            )
            tiles.append((-r["score"], tile))
    # The detector's surest regions first: most are plates whose reading needs checking, and the
    # doubtful tail is where missed plates and phantoms hide.
    tiles = [tile for _, tile in sorted(tiles, key=lambda t: t[0])]
    for s in range(0, len(tiles), per_sheet):
        sheet = Image.new("RGB", (1500, 140 * ((per_sheet + 4) // 5)), (0, 0, 0))
        for i, tile in enumerate(tiles[s : s + per_sheet]):
            sheet.paste(tile, ((i % 5) * 300, (i // 5) * 140))
        sheet.save(out / f"crops_{s // per_sheet:02d}.png")
    photos = []
    for n, photo in enumerate(data):
        image = cv2.imread(str(SCENES / photo["path"]), cv2.IMREAD_COLOR)
        scale = 480 / max(image.shape[:2])
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        tile = np.zeros((480, 480, 3), np.uint8)
        tile[: small.shape[0], : small.shape[1]] = small
        for k, r in enumerate(photo["regions"]):
            q = (np.float32(r["quad"]) * scale).astype(np.int32)
            cv2.polylines(tile, [q], True, (0, 255, 0) if r["valid"] else (0, 0, 255), 2)
            cv2.putText(tile, str(k), tuple(int(v) for v in q[0]), 0, 0.6, (0, 255, 255), 2)
        cv2.putText(tile, str(n), (5, 25), 0, 0.9, (255, 255, 0), 2)
        photos.append(tile)
    for s in range(0, len(photos), 12):
        group = photos[s : s + 12]
        group += [np.zeros_like(photos[0])] * (12 - len(group))
        grid = np.vstack([np.hstack(group[r * 4 : r * 4 + 4]) for r in range(3)])
        cv2.imwrite(str(out / f"photos_{s // 12:02d}.png"), grid)
    print(f"{len(tiles)} crops, {len(photos)} photos: sheets in {out}")


def accept(proposals: Path, review: Path, accept_above: float, labels: Path, texts: Path) -> None:
    """Writes the committed labels (corners only) and the local readings."""
    from plate_ocr import grammar

    data = json.loads(proposals.read_text(encoding="utf-8"))["photos"]
    decisions = json.loads(review.read_text(encoding="utf-8")) if review.is_file() else {}
    out: dict[str, dict[str, list]] = {}
    readings: dict[str, list[dict[str, object]]] = {}
    counts: dict[str, int] = {"plate": 0, "unsure": 0, "no": 0}
    for photo in data:
        said = decisions.get(photo["path"], {})
        plates, unsure, texts_here = [], [], []
        for k, r in enumerate(photo["regions"]):
            verdict = said.get(str(k))
            text = r["text"]
            if verdict is None:
                if r["valid"] and (r["confidence"] >= accept_above or r["score"] >= 0.5):
                    verdict = "plate"
                elif r["score"] >= 0.3:
                    verdict = "unsure"
                else:
                    verdict = "no"
            elif verdict not in ("plate", "no", "unsure", "plate?"):
                # A corrected reading: the region is a plate and this is what it says.
                text, verdict = verdict, "plate"
            if verdict == "plate?":
                # A plate whose reading cannot be told: a positive for the detector only.
                plates.append({"quad": r["quad"]})
                counts["plate"] += 1
                continue
            counts[verdict] += 1
            if verdict == "plate":
                plates.append({"quad": r["quad"]})
                if grammar.is_valid(text):
                    texts_here.append({"quad": r["quad"], "text": grammar.parse(text).text})
            elif verdict == "unsure":
                unsure.append(r["quad"])
        if said.get("skip"):
            # Plates nobody could outline: the photo would teach them as background.
            counts["skipped photos"] = counts.get("skipped photos", 0) + 1
            continue
        for missed in said.get("missed", []):
            plates.append({"quad": missed["quad"]})
            counts["plate"] += 1
            if missed.get("text"):
                texts_here.append({"quad": missed["quad"], "text": missed["text"]})
        out[photo["path"]] = {"plates": plates, "unsure": unsure}
        # The largest plate first: the photo's main car (dev evaluation reads it as the label).
        readings[photo["path"]] = sorted(texts_here, key=lambda t: -_area(t["quad"]))
    labels.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "note": (
            "Plates of ../shared/datasets/kr-scenes-unlabelled found by self-training "
            "(training/pseudo.py) and checked by eye: corners in photo pixels, clockwise from "
            "top-left. 'unsure' regions are neither rewarded nor punished. No plate numbers."
        ),
        "photos": out,
    }
    labels.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    texts.write_text(json.dumps(readings, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"labels: {counts}; {sum(map(len, readings.values()))} readings in {texts}")


def train_texts(proposals: Path, texts: Path, least: float) -> None:
    """Readings of the train photos for the recogniser's fine-tune, without a review.

    A reading is kept when it is grammar-valid, calibrated at ``least`` or more, and its region is
    a plate already accepted in ``scene_labels.json`` (or the detector is sure of it, 0.5). The
    dev photos' readings in ``texts`` (checked by eye) are kept as they are. The shipped
    recogniser's last fine-tune read 75 plates of 74 train photos this way at 0.95, all checked
    right by eye on contact sheets (2026-12-01).
    """
    from plate_ocr import grammar
    from plate_ocr.locate.geometry import quad_iou

    data = json.loads(proposals.read_text(encoding="utf-8"))["photos"]
    accepted = json.loads(LABELS.read_text(encoding="utf-8"))["photos"]
    old = json.loads(texts.read_text(encoding="utf-8")) if texts.is_file() else {}
    out = {name: plates for name, plates in old.items() if is_dev(name)}
    for photo in data:
        if photo["dev"]:
            continue
        known = [p["quad"] for p in accepted.get(photo["path"], {}).get("plates", [])]
        keep = [
            {"quad": r["quad"], "text": grammar.parse(r["text"]).text}
            for r in photo["regions"]
            if r["valid"]
            and r["confidence"] >= least
            and (
                r["score"] >= 0.5 or any(quad_iou(_quad(r["quad"]), _quad(k)) >= 0.5 for k in known)
            )
        ]
        if keep:
            out[photo["path"]] = keep
    texts.parent.mkdir(parents=True, exist_ok=True)
    texts.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    n = sum(len(v) for k, v in out.items() if not is_dev(k))
    dev = sum(is_dev(k) for k in out)
    print(f"{n} train readings (and {dev} dev photos) in {texts}")


def dev_texts(proposals: Path, corrections: Path, texts: Path, sheet_dir: Path) -> None:
    """The dev photos' readings again, for a machine that lacks ``texts.json`` (it is local).

    The committed labels keep the dev plates' corners (checked by eye when they were accepted),
    not their numbers. Each is given the reading of the proposal that overlaps it (IoU 0.5), and
    ``corrections`` (local JSON, ``{"<photo>": {"<k>": "<plate>" | ""}}``, k counting the photo's
    labelled plates in the labels' order; ``""``: no reading, a plate nobody can read) overrides
    it. A contact sheet of every dev plate with its reading (``sheet_dir/dev_*.png``) is drawn for
    the eye check; run again after writing the corrections. The train photos' readings in
    ``texts`` are kept.
    """
    from PIL import Image, ImageDraw, ImageFont

    from plate_ocr import grammar
    from plate_ocr.locate.geometry import quad_iou, rectify

    found = {p["path"]: p for p in json.loads(proposals.read_text(encoding="utf-8"))["photos"]}
    labels = json.loads(LABELS.read_text(encoding="utf-8"))["photos"]
    fixes = json.loads(corrections.read_text(encoding="utf-8")) if corrections.is_file() else {}
    old = json.loads(texts.read_text(encoding="utf-8")) if texts.is_file() else {}
    out = {name: plates for name, plates in old.items() if not is_dev(name)}
    font = ImageFont.truetype(SHEET_FONT, 20)
    tiles = []
    for name, label in sorted(labels.items()):
        if not is_dev(name):
            continue
        image = cv2.imread(str(SCENES / name), cv2.IMREAD_COLOR)
        regions = found.get(name, {}).get("regions", [])
        here = []
        for k, plate in enumerate(label["plates"]):
            quad = _quad(plate["quad"])
            near = [r for r in regions if quad_iou(quad, _quad(r["quad"])) >= 0.5]
            text = max(near, key=lambda r: quad_iou(quad, _quad(r["quad"])))["text"] if near else ""
            fixed = fixes.get(name, {}).get(str(k))
            if fixed and not grammar.is_valid(fixed):
                print(f"correction {name} {k}: {fixed!r} is not a valid plate: left out")
            text = text if fixed is None else fixed
            # What is stored, drawn on the sheet: a reading the grammar refuses is no reading.
            text = grammar.parse(text).text if text and grammar.is_valid(text) else ""
            if text:
                here.append({"quad": plate["quad"], "text": text})
            crop = rectify(image, quad, 48)
            tile = Image.new("RGB", (560, 60), (255, 255, 255))
            tile.paste(Image.fromarray(cv2.resize(crop, (220, 48))[:, :, ::-1]), (4, 6))
            ImageDraw.Draw(tile).text(
                (234, 16), f"{name.split('/')[-1][:12]} {k}: {text or '-'}", font=font, fill="red"
            )
            tiles.append(tile)
        out[name] = sorted(here, key=lambda t: -_area(t["quad"]))
    sheet_dir.mkdir(parents=True, exist_ok=True)
    for s in range(0, len(tiles), 16):
        group = tiles[s : s + 16]
        sheet = Image.new("RGB", (560, 60 * len(group)), (255, 255, 255))
        for i, tile in enumerate(group):
            sheet.paste(tile, (0, 60 * i))
        sheet.save(sheet_dir / f"dev_{s // 16:02d}.png")
    texts.parent.mkdir(parents=True, exist_ok=True)
    texts.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    read = sum(bool(v) for k, v in out.items() if is_dev(k))
    print(
        f"{len(tiles)} dev plates on {read} dev photos with a reading in {texts}; check {sheet_dir}"
    )


def _quad(points: list[list[float]]) -> tuple[tuple[float, float], ...]:
    return tuple((float(x), float(y)) for x, y in points)


def _area(quad: list[list[float]]) -> float:
    return float(cv2.contourArea(np.float32(quad)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("propose", help="detect and read every photo, then draw contact sheets")
    p.add_argument("--models", type=Path, default=REPO / "models")
    p.add_argument("--min-score", type=float, default=0.2)
    p.add_argument("--out", type=Path, default=PROPOSALS)
    s = sub.add_parser("sheets", help="draw the contact sheets again")
    s.add_argument("--proposals", type=Path, default=PROPOSALS)
    a = sub.add_parser("accept", help="write the labels from the proposals and the review")
    a.add_argument("--proposals", type=Path, default=PROPOSALS)
    a.add_argument("--review", type=Path, default=REVIEW)
    a.add_argument("--accept-above", type=float, default=0.9)
    a.add_argument("--labels", type=Path, default=LABELS)
    a.add_argument("--texts", type=Path, default=TEXTS)
    t = sub.add_parser("texts", help="readings of the train photos for the recogniser, no review")
    t.add_argument("--proposals", type=Path, default=PROPOSALS)
    t.add_argument("--texts", type=Path, default=TEXTS)
    t.add_argument("--least", type=float, default=0.95)
    d = sub.add_parser(
        "dev-texts", help="the dev photos' readings from the committed corners, to check by eye"
    )
    d.add_argument("--proposals", type=Path, default=PROPOSALS)
    d.add_argument("--corrections", type=Path, default=WORK / "dev_corrections.json")
    d.add_argument("--texts", type=Path, default=TEXTS)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    if args.command == "propose":
        propose(args.models, args.min_score, args.out)
        sheets(args.out, args.out.parent / "sheets")
    elif args.command == "sheets":
        sheets(args.proposals, args.proposals.parent / "sheets")
    elif args.command == "texts":
        train_texts(args.proposals, args.texts, args.least)
    elif args.command == "dev-texts":
        dev_texts(args.proposals, args.corrections, args.texts, args.proposals.parent / "sheets")
    else:
        accept(args.proposals, args.review, args.accept_above, args.labels, args.texts)


if __name__ == "__main__":
    main()
