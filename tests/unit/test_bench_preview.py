"""The preview benchmark in quick mode: a real run of `rung simulate` in a child process,
measured and reported as the Markdown section docs/performance.md holds."""

from __future__ import annotations

import pytest

from bench.preview import run

# Runs only on the operator's machine, never in Lambda: `make test-runtime` leaves it out.
pytestmark = pytest.mark.operator_only


def test_quick_mode_reports_the_run_and_its_baseline() -> None:
    section = run(quick=True)

    assert section.startswith("## Preview of 2,000 accounts")
    assert "| accounts | 1,997 |" in section  # the generated file's bad rows are rejected
    assert "| invariant violations, failed ladders | 0, 0 |" in section
    assert "| preview CPU ÷ validate CPU |" in section
    assert "load average" in section
