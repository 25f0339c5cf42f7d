"""`rigtui record`: save live GPU telemetry to a file that `rigtui --replay FILE` plays back."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "record",
        help="record GPU telemetry to a file for `rigtui --replay` and bug reports",
        description="Read every GPU at a fixed interval and write the samples as JSON Lines. "
        "`rigtui --replay FILE` plays the file back on any machine. "
        "With `rigtui --demo SCENARIO record ...` it records a simulated rig instead.",
    )
    parser.add_argument("--seconds", type=float, required=True, help="how long to record, in seconds")
    parser.add_argument("--output", type=Path, required=True, metavar="FILE", help="file to write (JSON Lines)")
    parser.add_argument(
        "--interval", type=float, default=1.0, metavar="S", help="seconds between samples (default: 1)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rigtui.errors import TelemetryUnavailable
    from rigtui.hardware import open_source
    from rigtui.hardware.replay import header_line, sample_line

    if args.seconds <= 0 or args.interval <= 0:
        print("rigtui record: --seconds and --interval must be positive", file=sys.stderr)
        return 2
    demo = getattr(args, "demo", None) or None
    try:
        source = open_source(demo=demo)
    except TelemetryUnavailable as exc:
        print(f"rigtui record: {exc.message}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"rigtui record: {exc}", file=sys.stderr)
        return 2

    count = max(1, round(args.seconds / args.interval))
    written = 0
    try:
        with args.output.open("w", encoding="utf-8") as stream:
            info = source.info()
            stream.write(header_line(info) + "\n")
            start = time.monotonic()
            for number in range(count):
                stream.write(sample_line(source.sample()) + "\n")
                # Flush each line so an interrupted recording keeps every finished sample.
                stream.flush()
                written += 1
                if number + 1 < count:
                    time.sleep(max(0.0, start + (number + 1) * args.interval - time.monotonic()))
    except OSError as exc:
        print(f"rigtui record: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"rigtui record: interrupted; kept {written} samples in {args.output}", file=sys.stderr)
        return 130
    finally:
        source.close()
    gpus = len(info.gpus)
    print(f"Recorded {written} samples of {gpus} GPU{'s' if gpus != 1 else ''} to {args.output}", file=sys.stderr)
    return 0
