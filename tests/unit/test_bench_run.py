"""`make bench` (bench/run.py): which sections run, and how docs/performance.md is updated."""

from __future__ import annotations

import argparse
import types
from pathlib import Path

import pytest

from bench import run as bench_run

# Runs only on the operator's machine, never in Lambda: `make test-runtime` leaves it out.
pytestmark = pytest.mark.operator_only

EARLIER = """# Performance

An older header.

<!-- bench.ingest -->
## Lender file ingest

old ingest figures

<!-- bench.scale -->
## Lender scale

scale figures of an earlier day
"""


def _stub(monkeypatch: pytest.MonkeyPatch, ran: list[str]) -> None:
    def run(name: str) -> types.SimpleNamespace:
        def section(quick: bool = False) -> str:
            ran.append(name)
            return f"## {name}\n\nnew figures{' (quick)' if quick else ''}\n"

        return types.SimpleNamespace(run=section)

    monkeypatch.setattr(bench_run.importlib, "import_module", run)


def test_make_bench_leaves_out_the_long_runs_and_keeps_their_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "performance.md"
    output.write_text(EARLIER, encoding="utf-8")
    ran: list[str] = []
    _stub(monkeypatch, ran)

    assert bench_run.main(["--output", str(output)]) == 0

    assert ran == list(bench_run.DEFAULT)
    assert not set(bench_run.LONG) & set(ran)
    document = output.read_text(encoding="utf-8")
    assert "old ingest figures" not in document
    assert "scale figures of an earlier day" in document  # not run: kept as it was
    sections = bench_run._sections(document)
    assert list(sections) == [
        "bench.ingest",
        "bench.gate",
        "bench.cold_start",
        "bench.simulate",
        "bench.scale",
        "bench.plan",
        "bench.decrypt",
    ]
    assert sections["bench.plan"].startswith("## bench.plan\n\nnew figures\n\n_Measured on ")
    assert "Last run: `make bench`" in document


def test_a_long_run_named_alone_replaces_only_its_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "performance.md"
    output.write_text(EARLIER, encoding="utf-8")
    ran: list[str] = []
    _stub(monkeypatch, ran)

    bench_run.main(["--only", "bench.scale", "--quick", "--output", str(output)])

    assert ran == ["bench.scale"]
    sections = bench_run._sections(output.read_text(encoding="utf-8"))
    assert sections["bench.ingest"] == "## Lender file ingest\n\nold ingest figures\n"
    assert "new figures (quick)" in sections["bench.scale"]
    assert "(quick mode)" in sections["bench.scale"]


def test_only_names_benchmark_modules_that_exist() -> None:
    assert bench_run.benchmark("bench.scale") == "bench.scale"
    for name in ("bench.nothing_here", "os", "bench.scale; rm"):
        with pytest.raises(argparse.ArgumentTypeError):
            bench_run.benchmark(name)
