"""The ``plate-ocr`` command: read photos, evaluate on a manifest, serve the API locally."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

from plate_ocr.errors import PlateOcrError

T = TypeVar("T")

#: Below this many photos a progress bar is noise.
PROGRESS_MIN_ITEMS = 4


def progress(items: Sequence[T], stream: TextIO, label: str = "") -> Iterator[T]:
    """Yields items while drawing a one-line progress bar on ``stream`` (stderr)."""
    total = len(items)
    if total < PROGRESS_MIN_ITEMS:
        yield from items
        return
    width = 30
    started = time.perf_counter()
    for index, item in enumerate(items):
        yield item
        done = index + 1
        filled = width * done // total
        rate = done / max(time.perf_counter() - started, 1e-9)
        stream.write(
            f"\r{label}[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {rate:.1f}/s"
        )
        stream.flush()
    stream.write("\n")


def _cmd_read(args: argparse.Namespace) -> int:
    from plate_ocr import factory

    pipeline = factory.get_pipeline()
    failures = 0
    for photo in progress(args.photos, sys.stderr):
        record: dict[str, Any] = {"path": photo}
        try:
            data = Path(photo).read_bytes()
            record.update(pipeline.read(data, use_fallback=not args.no_fallback).to_dict())
        except PlateOcrError as exc:
            failures += 1
            record.update({"error": exc.code, "message": str(exc)})
        except OSError as exc:
            failures += 1
            record.update({"error": "unreadable_file", "message": exc.strerror or str(exc)})
        print(json.dumps(record, ensure_ascii=False), flush=True)
    return 1 if failures == len(args.photos) else 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from plate_ocr import factory
    from plate_ocr.evaluate import Tally, load_manifest

    samples = load_manifest(Path(args.manifest), split=args.split, limit=args.limit)
    if not samples:
        print(f"no rows in {args.manifest} for split {args.split!r}", file=sys.stderr)
        return 2
    pipeline = factory.get_pipeline()
    tally = Tally()
    for sample in progress(samples, sys.stderr, "eval "):
        started = time.perf_counter()
        try:
            result = pipeline.read(sample.path.read_bytes(), use_fallback=False)
            read = result.plate_number or (result.plates[0].plate_number if result.plates else "")
            stage = result.stage.value
        except (PlateOcrError, OSError) as exc:
            read, stage = "", f"error:{type(exc).__name__}"
        tally.add(sample, read, stage, (time.perf_counter() - started) * 1000.0)

    summary = tally.summary()
    _print_table(summary, sys.stdout)
    if args.errors:
        with open(args.errors, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["path", "label", "read"])
            writer.writerows(tally.misreads())
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def _print_table(summary: dict[str, Any], out: TextIO) -> None:
    out.write(f"{'group':<22}{'n':>6}{'exact':>9}\n")
    out.write(f"{'all':<22}{summary['n']:>6}{summary['exact_match']:>9.1%}\n")
    for title, key in (("kind", "by_kind"), ("type", "by_plate_type")):
        for name, row in summary[key].items():
            out.write(f"{title + '=' + name:<22}{row['n']:>6}{row['exact_match']:>9.1%}\n")
    out.write(
        f"char accuracy {summary['char_accuracy']:.1%}; latency p50 "
        f"{summary['latency_ms']['p50']:.0f} ms, p95 {summary['latency_ms']['p95']:.0f} ms; "
        f"stages {summary['stage_counts']}\n"
    )


def _cmd_serve(args: argparse.Namespace) -> int:
    from plate_ocr.localserver import serve

    serve(host=args.host, port=args.port)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plate-ocr", description="Read South Korean licence plates from photos."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    read = sub.add_parser("read", help="read photos; one JSON object per photo per line")
    read.add_argument("photos", nargs="+", metavar="PHOTO")
    read.add_argument("--no-fallback", action="store_true", help="stage 1 only, never ask Gemini")
    read.set_defaults(func=_cmd_read)

    ev = sub.add_parser("eval", help="measure stage-1 accuracy on a labelled manifest")
    ev.add_argument("--manifest", required=True, help="CSV with path,label,kind,plate_type,split")
    ev.add_argument("--split", default=None, help="only rows of this split (e.g. val)")
    ev.add_argument("--limit", type=int, default=None, help="only the first N rows")
    ev.add_argument("--errors", default=None, metavar="FILE", help="write misreads as CSV")
    ev.set_defaults(func=_cmd_eval)

    serve = sub.add_parser("serve", help="the API on a local HTTP server (no Docker)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.set_defaults(func=_cmd_serve)
    return parser


def main(argv: Iterable[str] | None = None) -> int:
    """Entry point of the ``plate-ocr`` console script."""
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except PlateOcrError as exc:
        print(json.dumps({"error": exc.code, "message": str(exc)}, ensure_ascii=False))
        return 3
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
