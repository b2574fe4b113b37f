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
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from pydantic import ValidationError

from plate_ocr.errors import PlateOcrError
from plate_ocr.evaluate import DEGRADATIONS
from plate_ocr.upload import MAX_FRAMES

if TYPE_CHECKING:
    from plate_ocr.pipeline import Pipeline

T = TypeVar("T")

#: Below this many photos a progress bar is noise.
PROGRESS_MIN_ITEMS = 4


def progress(items: Sequence[T], stream: TextIO, label: str = "") -> Iterator[T]:
    """Yields items while drawing a one-line progress bar on ``stream`` (stderr); where the stream
    is no terminal (a log file, a pipe), one line at the end instead."""
    total = len(items)
    if total < PROGRESS_MIN_ITEMS:
        yield from items
        return
    width = 30
    live = stream.isatty()
    started = time.perf_counter()
    for index, item in enumerate(items):
        yield item
        done = index + 1
        filled = width * done // total
        rate = done / max(time.perf_counter() - started, 1e-9)
        if live or done == total:
            stream.write(
                f"\r{label}[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {rate:.1f}/s"
            )
            stream.flush()
    stream.write("\n")


def _cmd_read(args: argparse.Namespace) -> int:
    from plate_ocr import lifecycle

    pipeline = lifecycle.get_pipeline()
    if args.vote:
        return _read_vote(pipeline, args)
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
    # A photo with no plate was read; one that could not be read at all is a failure.
    return 1 if failures else 0


def _read_vote(pipeline: Pipeline, args: argparse.Namespace) -> int:
    """``read --vote``: the photos are frames of one vehicle; one JSON object, one voted plate."""
    record: dict[str, Any] = {"paths": args.photos}
    try:
        photos = [Path(photo).read_bytes() for photo in args.photos]
        result = pipeline.read_frames(
            photos, [Path(p).name for p in args.photos], use_fallback=not args.no_fallback
        )
    except PlateOcrError as exc:
        record.update({"error": exc.code, "message": str(exc)})
    except OSError as exc:
        record.update({"error": "unreadable_file", "message": exc.strerror or str(exc)})
    else:
        record.update(result.to_dict())
    print(json.dumps(record, ensure_ascii=False), flush=True)
    return 1 if "error" in record else 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from plate_ocr import lifecycle
    from plate_ocr.evaluate import Tally, load_manifest, measure

    try:
        samples = load_manifest(Path(args.manifest), split=args.split, limit=args.limit)
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        print(f"plate-ocr eval: cannot read the manifest {args.manifest}: {exc}", file=sys.stderr)
        return 2
    if not samples:
        which = f"for split {args.split!r}" if args.split else "(it has no rows)"
        print(f"no rows in {args.manifest} {which}", file=sys.stderr)
        return 2
    errors_file = None
    if args.errors:
        try:  # before any photo is read: a bad path must not cost the whole run
            errors_file = open(args.errors, "w", newline="", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            print(f"plate-ocr eval: cannot write {args.errors}: {exc}", file=sys.stderr)
            return 2
    pipeline = lifecycle.get_pipeline()
    tally = Tally()
    label = f"eval{'/' + args.degrade if args.degrade else ''} "
    for sample in progress(samples, sys.stderr, label):
        tally.add(measure(pipeline, sample, args.degrade))

    summary = tally.summary()
    _print_table(summary, sys.stdout)
    if errors_file is not None:
        with errors_file:
            writer = csv.writer(errors_file)
            writer.writerow(["path", "label", "read", "confidence"])
            writer.writerows(tally.misreads())
    unread = {k: n for k, n in summary["stage_counts"].items() if k.startswith("error:")}
    if unread:
        print(
            f"plate-ocr eval: {sum(unread.values())} photo(s) could not be read and count as "
            f"misreads: {unread}",
            file=sys.stderr,
        )
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def _print_table(summary: dict[str, Any], out: TextIO) -> None:
    out.write(f"{'group':<22}{'n':>6}{'exact':>9}\n")
    out.write(f"{'all':<22}{summary['n']:>6}{summary['exact_match']:>9.1%}\n")
    for title, key in (("kind", "by_kind"), ("type", "by_plate_type")):
        for name, row in summary[key].items():
            out.write(f"{title + '=' + name:<22}{row['n']:>6}{row['exact_match']:>9.1%}\n")
    out.write(
        f"coverage {summary['coverage']:.1%} (answered with success), precision "
        f"{summary['precision']:.1%} (of those, exact); extra plates per scene "
        f"{summary['extra_plates_per_photo']:.2f}\n"
    )
    out.write(f"{'confidence':<14}{'n':>6}{'mean':>8}{'right':>8}\n")
    for row in summary["reliability"]:
        out.write(
            f"{row['bin']:<14}{row['n']:>6}{row['mean_confidence']:>8.2f}{row['accuracy']:>8.1%}\n"
        )
    out.write(
        f"char accuracy {summary['char_accuracy']:.1%}; latency p50 "
        f"{summary['latency_ms']['p50']:.0f} ms, p95 {summary['latency_ms']['p95']:.0f} ms; "
        f"stages {summary['stage_counts']}\n"
    )


def _cmd_serve(args: argparse.Namespace) -> int:
    from plate_ocr.localserver import serve

    try:
        serve(host=args.host, port=args.port)
    except OSError as exc:  # the port is taken, the host unknown, ...
        print(f"plate-ocr serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    return 0


def _count(text: str) -> int:
    """A whole number of at least 1 (argparse type)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not 1 or more")
    return value


def _port(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535 (argparse type)."""
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is no port (0-65535)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plate-ocr",
        description="Read South Korean licence plates from photos.",
        epilog=(
            "Exit status: 0 done (a photo without a plate was still read); 1 a photo could not "
            "be read (its line says why); 2 a usage or setup error; 3 the models cannot load."
        ),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    # -v also after the subcommand (plate-ocr read PHOTO -v); SUPPRESS keeps a -v given before it.
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    read = sub.add_parser(
        "read", parents=[verbose], help="read photos; one JSON object per photo per line"
    )
    read.add_argument("photos", nargs="+", metavar="PHOTO")
    read.add_argument("--no-fallback", action="store_true", help="stage 1 only, never ask Gemini")
    read.add_argument(
        "--vote",
        action="store_true",
        help=f"the photos (up to {MAX_FRAMES}) are frames of one vehicle: print one voted plate",
    )
    read.set_defaults(func=_cmd_read)

    ev = sub.add_parser(
        "eval", parents=[verbose], help="measure stage-1 accuracy on a labelled manifest"
    )
    ev.add_argument("--manifest", required=True, help="CSV with path,label,kind,plate_type,split")
    ev.add_argument("--split", default=None, help="only rows of this split (e.g. val)")
    ev.add_argument("--limit", type=_count, default=None, help="only the first N rows")
    ev.add_argument("--errors", default=None, metavar="FILE", help="write misreads as CSV")
    ev.add_argument(
        "--degrade",
        choices=DEGRADATIONS,
        default=None,
        help="measure on degraded copies of the photos (motion blur, night, half resolution)",
    )
    ev.set_defaults(func=_cmd_eval)

    serve = sub.add_parser(
        "serve", parents=[verbose], help="the API on a local HTTP server (no Docker)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=3000, help="0: any free port")
    serve.set_defaults(func=_cmd_serve)
    return parser


def main(argv: Iterable[str] | None = None) -> int:
    """Entry point of the ``plate-ocr`` console script."""
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    if getattr(args, "vote", False) and len(args.photos) > MAX_FRAMES:
        parser.error(f"--vote reads at most {MAX_FRAMES} photos of one vehicle")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except ValidationError as exc:  # a PLATE_OCR_ variable that is no valid value
        print(f"plate-ocr: invalid setting: {exc}", file=sys.stderr)
        return 2
    except PlateOcrError as exc:
        print(json.dumps({"error": exc.code, "message": str(exc)}, ensure_ascii=False))
        return 3
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
