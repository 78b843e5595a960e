"""The benchmark harness: alternating order, a child's own usage, failures that say why."""

from __future__ import annotations

import pytest

from bench.harness import (
    ChildFailed,
    Usage,
    alternate,
    as_fraction,
    cpu_clock,
    median_run,
    python_child,
)

# Burns CPU in a worker process and waits for it: its CPU time must count as the child's.
SPIN = """
import time
total = 0
for i in range(3_000_000):
    total += i
print(time.process_time())  # the grandchild's own CPU time, start-up included
"""
BUSY_GRANDCHILD = f"""
import subprocess, sys
subprocess.run([sys.executable, "-c", {SPIN!r}], check=True)
print("done")
"""


def test_alternate_swaps_the_order_every_round() -> None:
    calls: list[str] = []

    def make(name: str, cpu: float) -> Usage:
        calls.append(name)
        return Usage(cpu=cpu, wall=cpu, peak_kib=1)

    compared = alternate(lambda: make("B", 1.0), lambda: make("S", 3.0), rounds=4)

    assert calls == ["B", "S", "S", "B", "B", "S", "S", "B"]
    assert len(compared.baseline) == len(compared.subject) == 4
    assert compared.ratio == 3.0


def test_medians_ignore_one_slow_outlier() -> None:
    runs = [Usage(cpu=c, wall=c, peak_kib=1) for c in (1.0, 9.0, 1.2)]
    assert median_run(runs).cpu == 1.2


def test_a_child_s_cpu_time_includes_the_workers_it_waited_for() -> None:
    idle = python_child("-c", "pass")
    busy = python_child("-c", BUSY_GRANDCHILD)

    grandchild_cpu, done = busy.stdout.split()
    assert done == "done"
    # The spinning happens only in the grandchild: the child's figure holds all of its CPU time.
    assert busy.cpu >= idle.cpu + float(grandchild_cpu) * 0.9
    assert busy.peak_kib > 0


def test_a_failing_child_raises_with_its_stderr() -> None:
    with pytest.raises(ChildFailed, match="exited 3:\nboom"):
        python_child("-c", "import sys; sys.stderr.write('boom'); sys.exit(3)")


def test_cpu_clock_counts_work_in_this_process() -> None:
    with cpu_clock() as clock:
        sum(range(2_000_000))
    assert clock.cpu > 0
    assert clock.wall > 0


def test_fractions_read_as_the_issue_writes_them() -> None:
    assert as_fraction(59.3) == "1/59"
