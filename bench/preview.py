"""Benchmark: `rung simulate` with its defaults on a generated 1,000,000-account file, 30 days.

Target: under 10 minutes of wall time and under 4 GB of peak resident memory, all processes
together, on two cores. The run is `rung simulate FILE --out OUT --json` (the fast engine in
chunks on every core, outputs streamed to disk), in a fresh child interpreter that reports
its own CPU time and VmHWM and those of each worker process (a worker reads its own at the
end of each chunk). The baseline is validating the same file (`validate_lender_file`, one
process), alternated with the preview round by round. `python -m bench.preview [--quick]`
prints the Markdown section; quick mode runs 2,000 accounts (its test).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench.harness import Usage, alternate, python_child
from bench.ingest import write_file

START = "2026-12-01T00:00:00Z"
DAYS = 30
TARGET_WALL_SECONDS = 600
TARGET_PEAK_GIB = 4
# Measured before chunking, on the same machine (docs/performance.md, "Simulator"): the fast
# engine's CPU per account and memory per account on 10,000 to 20,000 accounts.
BEFORE = {"cpu_ms_per_account": 1.5, "kib_per_account": 28 * 1024 // 1}

_VALIDATE = """
import sys, time
from pathlib import Path
from functions.core.lender_file import FileReport, validate_lender_file
from functions.core.lenders import load_lender
from functions.settings import PROJECT_ROOT
report = FileReport()
with Path(sys.argv[1]).open("rb") as stream:
    for _ in validate_lender_file(stream, load_lender(PROJECT_ROOT, "demo"), report):
        pass
print(report.accepted)
"""


def _status_kib(field: str) -> int:
    status = Path("/proc/self/status").read_text(encoding="ascii").splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith(f"{field}:"))


def child(path: Path, out: Path) -> None:
    """In the measured child: the preview, then its usage and every worker's, as JSON."""
    import resource
    import time

    import rung.commands.simulate as simulate
    from rung.chunks import ChunkDone, WorkerUsage
    from rung.cli import main

    workers: dict[int, WorkerUsage] = {}
    run_chunks = simulate.run_chunks  # type: ignore[attr-defined]

    def recording(*args: object, **kwargs: object) -> object:
        for done in run_chunks(*args, **kwargs):  # type: ignore[arg-type]
            assert isinstance(done, ChunkDone)
            workers[done.usage.pid] = done.usage
            yield done

    setattr(simulate, "run_chunks", recording)  # noqa: B010 (mypy: not exported)
    began = time.perf_counter()
    code = main(
        ["simulate", str(path), "--start", START, "--days", str(DAYS), "--out", str(out), "--json"]
    )
    wall = time.perf_counter() - began
    own = resource.getrusage(resource.RUSAGE_SELF)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    in_process = os.getpid() in workers  # one chunk runs in this process
    print(
        json.dumps(
            {
                "code": code,
                "wall": wall,
                "main_cpu": own.ru_utime + own.ru_stime,
                "main_peak_kib": _status_kib("VmHWM"),
                "workers": [
                    [u.pid, u.cpu, u.peak_kib] for u in workers.values() if u.pid != os.getpid()
                ],
                "in_process": in_process,
                "accounts": summary["accounts"],
                "decisions": sum(summary["decisions"].values()),
                "sent": summary["sent"]["total"],
                "invariants": sum(summary["invariants"].values()),
                "ladders_failed": summary["ladders_failed"],
                "messages_bytes": (out / "messages.csv").stat().st_size,
            }
        )
    )


def run(quick: bool = False) -> str:
    rows = 2_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory(prefix="rung-bench-preview-") as folder:
        path = Path(folder) / "accounts.csv"
        write_file(path, rows)
        out = Path(folder) / "out"
        reports: list[dict[str, object]] = []

        def preview() -> Usage:
            usage = python_child("-m", "bench.preview", "--child", path, out)
            reports.append(json.loads(usage.stdout.strip().splitlines()[-1]))
            return usage

        load_before = os.getloadavg()
        compared = alternate(lambda: python_child("-c", _VALIDATE, path), preview, rounds=1)
        load_after = os.getloadavg()
    report = reports[-1]
    workers = report["workers"]
    assert isinstance(workers, list)
    main_cpu = float(report["main_cpu"])  # type: ignore[arg-type]
    cpu = main_cpu + sum(w[1] for w in workers)
    peak_kib = int(report["main_peak_kib"]) + sum(w[2] for w in workers)  # type: ignore[call-overload]
    wall = float(report["wall"])  # type: ignore[arg-type]
    validate_cpu = statistics.median(u.cpu for u in compared.baseline)
    accounts = int(report["accounts"])  # type: ignore[call-overload]
    cores = len(os.sched_getaffinity(0))
    per_account_ms = cpu / accounts * 1000
    projected = cpu / cores
    verdict_wall = "meets" if wall < TARGET_WALL_SECONDS else "misses"
    verdict_peak = "meets" if peak_kib < TARGET_PEAK_GIB * 1024 * 1024 else "misses"
    return "\n".join(
        [
            f"## Preview of {rows:,} accounts (`bench/preview.py`)",
            "",
            f"`rung simulate FILE --json` with its defaults (fast engine in chunks on every "
            f"core, no rates), a generated {rows:,}-row file (bench/ingest.py), {DAYS} days "
            f"from {START}. {cores} cores; load average {load_before[0]:.1f} before, "
            f"{load_after[0]:.1f} after.",
            "",
            "| measure | value |",
            "| --- | ---: |",
            f"| accounts | {accounts:,} |",
            f"| gate decisions | {report['decisions']:,} |",
            f"| messages sent | {report['sent']:,} |",
            f"| invariant violations, failed ladders | {report['invariants']}, "
            f"{report['ladders_failed']} |",
            f"| worker processes | {len(workers)} |",
            f"| wall time | {wall:,.0f} s |",
            f"| CPU time, all processes | {cpu:,.0f} s (main {main_cpu:,.0f} s) |",
            f"| CPU time per account | {per_account_ms:.2f} ms |",
            f"| projected wall time on {cores} free cores (CPU ÷ cores) | {projected:,.0f} s |",
            f"| peak resident memory, all processes (sum of VmHWM) | "
            f"{peak_kib / 1024 / 1024:.2f} GiB |",
            f"| validate the same file, CPU (baseline) | {validate_cpu:,.1f} s |",
            f"| preview CPU ÷ validate CPU | {cpu / validate_cpu:.1f}× |",
            f"| messages.csv | {int(report['messages_bytes']) / 2**20:,.0f} MiB |",  # type: ignore[call-overload]
            "",
            f"Target: under {TARGET_WALL_SECONDS // 60} minutes wall — {verdict_wall} it; "
            f"under {TARGET_PEAK_GIB} GB peak — {verdict_peak} it.",
        ]
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        print(run(quick="--quick" in sys.argv))
