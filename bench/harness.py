"""How every benchmark measures, so that its figures hold on a shared, noisy machine.

- CPU time (user + system), never wall time, for anything compared: other work on the
  machine slows a wall clock, much less a process's own CPU time.
- Each measurement in a fresh child process, its usage read with `os.wait4` (the child's own
  CPU time and peak RSS, its finished worker processes included), so one measurement's
  imports, caches and memory never leak into the next.
- Baseline and subject alternate round by round (B S, S B, B S, …): a slow spell on the
  machine hits both, in both orders, and the ratio of the medians carries over.

`alternate(baseline, subject, rounds)` does the alternating; `run_child` measures one process;
`cpu_clock()` times work inside this process (its CPU time and that of its waited-for
children, e.g. a worker pool).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Usage:
    """One measured run: CPU seconds (user + system), wall seconds, peak RSS in KiB, output."""

    cpu: float
    wall: float
    peak_kib: int
    stdout: str = ""

    @property
    def peak_mib(self) -> float:
        return self.peak_kib / 1024


class ChildFailed(RuntimeError):
    """A measured child process exited with an error (its stderr is the message)."""


def run_child(
    command: Sequence[str | Path],
    *,
    cwd: Path = PROJECT_ROOT,
    env: Mapping[str, str] | None = None,
) -> Usage:
    """Run `command` to completion and return its own usage (via `os.wait4`), with the
    usage of every descendant it waited for (a process pool's workers included)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        process = subprocess.Popen(
            [str(part) for part in command],
            cwd=cwd,
            env=None if env is None else dict(env),
            stdout=out,
            stderr=err,
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)  # already reaped
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", errors="replace")
        if process.returncode:
            stderr = err.read().decode("utf-8", errors="replace")
            raise ChildFailed(
                f"{' '.join(map(str, command))} exited {process.returncode}:\n{stderr}"
            )
    return Usage(
        cpu=usage.ru_utime + usage.ru_stime,
        wall=wall,
        peak_kib=usage.ru_maxrss,
        stdout=stdout,
    )


def python_child(*args: str | Path, env: Mapping[str, str] | None = None) -> Usage:
    """`run_child` of this interpreter with `args` (e.g. `"-m", "bench.ingest", "--child", …`)."""
    return run_child([sys.executable, *args], env=env)


@dataclass
class Comparison:
    """Alternated runs of a baseline and a subject."""

    baseline: list[Usage] = field(default_factory=list)
    subject: list[Usage] = field(default_factory=list)

    @property
    def baseline_cpu(self) -> float:
        return median_cpu(self.baseline)

    @property
    def subject_cpu(self) -> float:
        return median_cpu(self.subject)

    @property
    def ratio(self) -> float:
        """Subject's median CPU time ÷ the baseline's: how many times slower the subject is."""
        return self.subject_cpu / self.baseline_cpu


def alternate(
    baseline: Callable[[], Usage], subject: Callable[[], Usage], rounds: int
) -> Comparison:
    """`rounds` runs of each, alternating and swapping the order every round (B S, S B, …)."""
    compared = Comparison()
    for round_ in range(rounds):
        pair = ((baseline, compared.baseline), (subject, compared.subject))
        for measure, into in pair if round_ % 2 == 0 else reversed(pair):
            into.append(measure())
    return compared


def median_cpu(runs: Sequence[Usage]) -> float:
    return statistics.median(run.cpu for run in runs)


def median_run(runs: Sequence[Usage]) -> Usage:
    """The run of median CPU time (the lower middle one for an even count)."""
    return sorted(runs, key=lambda run: run.cpu)[(len(runs) - 1) // 2]


@dataclass
class Clock:
    """What `cpu_clock()` measured: CPU seconds of this process and its reaped children,
    and wall seconds."""

    cpu: float = 0.0
    wall: float = 0.0


def _cpu_so_far() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@contextmanager
def cpu_clock() -> Iterator[Clock]:
    """Time a block inside this process: `with cpu_clock() as clock: …; clock.cpu`."""
    clock = Clock()
    cpu, wall = _cpu_so_far(), time.perf_counter()
    try:
        yield clock
    finally:
        clock.cpu = _cpu_so_far() - cpu
        clock.wall = time.perf_counter() - wall


def peak_rss_kib() -> int:
    """This process's peak resident set so far, KiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def as_fraction(ratio: float) -> str:
    """A slowdown ratio as the issue writes it: 59.3 → "1/59"."""
    return f"1/{ratio:.0f}"
