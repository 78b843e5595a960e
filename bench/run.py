"""`make bench`: run every benchmark and write docs/performance.md.

Each benchmark module measures ratios against a baseline taken in the same run (never
absolute timings asserted in tests) and returns its Markdown section.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

SECTIONS = (
    "bench.ingest",
    "bench.gate",
    "bench.cold_start",
    "bench.simulate",
    "bench.scale",
    "bench.plan",
    "bench.decrypt",
)
OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller inputs (a smoke run)")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these")
    args = parser.parse_args(argv)
    sections = []
    for name in args.only or SECTIONS:
        print(f"running {name} …", file=sys.stderr)
        sections.append(importlib.import_module(name).run(quick=args.quick))
    header = (
        "# Performance\n\n"
        f"Measured by `make bench` on {datetime.now(UTC):%Y-%m-%d}, "
        f"Python {platform.python_version()}, {platform.machine()}, "
        f"{_cores()} cores{' (quick mode)' if args.quick else ''}. "
        "Every figure that matters is a ratio to a baseline measured in the same run, so it "
        "carries over between machines better than seconds do.\n"
    )
    OUTPUT.write_text(header + "\n" + "\n\n".join(sections) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT}", file=sys.stderr)
    return 0


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
