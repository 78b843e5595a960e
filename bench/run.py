"""`make bench`: run the benchmarks and update their sections of docs/performance.md.

Each benchmark module measures ratios against a baseline taken in the same run (never
absolute timings asserted in tests) and returns its Markdown section. `make bench` runs the
DEFAULT sections, under ten minutes on two cores. The LONG ones run only when named
(`make bench-scale` for `bench.scale`, a 100,000-account simulation of 30 days, about ten
minutes alone; `python -m bench.run --only bench.preview`). Any `bench.NAME` module with a
`run(quick)` function can be named with `--only`.

docs/performance.md keeps one section per module between `<!-- bench.NAME -->` markers: a run
replaces the sections it ran and keeps the others, each with the day it was measured.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import platform
import re
import resource
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import cpu_clock

DEFAULT = (
    "bench.ingest",
    "bench.gate",
    "bench.cold_start",
    "bench.simulate",
    "bench.plan",
    "bench.decrypt",
)
LONG = ("bench.scale", "bench.preview")
# Where each section sits in docs/performance.md; a module not listed goes last.
ORDER = (
    "bench.ingest",
    "bench.gate",
    "bench.cold_start",
    "bench.simulate",
    "bench.scale",
    "bench.preview",
    "bench.plan",
    "bench.decrypt",
)
OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
_MARKER = re.compile(r"^<!-- (bench\.\w+) -->$", re.MULTILINE)


def benchmark(name: str) -> str:
    """`--only` NAME: a `bench.NAME` module that exists."""
    if not re.fullmatch(r"bench\.\w+", name) or importlib.util.find_spec(name) is None:
        raise argparse.ArgumentTypeError(f"no benchmark module {name!r} (e.g. bench.scale)")
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller inputs (a smoke run)")
    parser.add_argument(
        "--only",
        type=benchmark,
        action="append",
        help=f"run only this module (repeatable); default: {', '.join(DEFAULT)}; "
        f"run only when named: {', '.join(LONG)}",
    )
    parser.add_argument("--output", type=Path, default=OUTPUT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = args.only or list(DEFAULT)
    today = f"{datetime.now(UTC):%Y-%m-%d}"
    mode = " (quick mode)" if args.quick else ""
    ran, timings = {}, []
    with cpu_clock() as whole:
        for name in names:
            print(f"running {name} …", file=sys.stderr)
            with cpu_clock() as section:
                text = importlib.import_module(name).run(quick=args.quick)
            minutes = section.wall / 60
            ran[name] = f"{text.rstrip()}\n\n_Measured on {today}{mode}, {minutes:.1f} min._\n"
            timings.append(f"`{name}` {minutes:.1f} min")
            print(f"{name}: {section.wall:.0f} s", file=sys.stderr)
    which = "`make bench`" if names == list(DEFAULT) else f"`--only {' '.join(names)}`"
    header = (
        "# Performance\n\n"
        "Measured by `python -m bench.run` (`make bench`). Every figure that matters is a ratio "
        "to a baseline measured in the same run, so it carries over between machines better "
        "than seconds do. Each section names the day it was measured: `make bench` runs every "
        f"section but the long ones ({', '.join(LONG)}), which keep their last figures until "
        "named (`make bench-scale`; `python -m bench.run --only bench.preview`).\n\n"
        f"Last run: {which} on {today}{mode}, Python {platform.python_version()}, "
        f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores: "
        f"{whole.wall / 60:.1f} minutes of elapsed time ({', '.join(timings)}), peak RSS "
        f"{_peak_mib():,.0f} MiB (the largest process).\n"
    )
    kept = _sections(args.output.read_text(encoding="utf-8")) if args.output.exists() else {}
    args.output.write_text(_document(header, kept | ran), encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _sections(document: str) -> dict[str, str]:
    """Module → its section's text, from a document this module wrote."""
    found = list(_MARKER.finditer(document))
    ends = [match.start() for match in found[1:]] + [len(document)]
    return {
        match[1]: document[match.end() : end].strip() + "\n"
        for match, end in zip(found, ends, strict=True)
    }


def _document(header: str, sections: dict[str, str]) -> str:
    def place(name: str) -> int:
        return ORDER.index(name) if name in ORDER else len(ORDER)

    ordered = sorted(sections, key=place)
    return header + "".join(f"\n<!-- {name} -->\n{sections[name]}" for name in ordered)


def _peak_mib() -> float:
    """The largest resident set of this process or any child it waited for, MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


if __name__ == "__main__":
    sys.exit(main())
