"""`make mutation`: mutation-test the compliance core, one module at a time.

Each module is mutated alone (mutmut 3) against the fast unit tests that specify it, in its
own working directory under build/mutation/, so a survivor means "no test of this module's
rules notices the change". Survivors reviewed as changing nothing observable are listed in
mutation/equivalent.toml with a reason; they are matched by function and changed lines (not
by mutmut's mutant number, which shifts whenever the module is edited). The per-module
scores, the unreviewed survivors and the reviewed list go to docs/mutation.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "mutation"
OUTPUT = ROOT / "docs" / "mutation.md"
EQUIVALENT = Path(__file__).resolve().parent / "equivalent.toml"
# What the tests read relative to the project root (configuration, ladders, templates).
LINKED = ("functions", "rung", "config", "ladders", "templates", "samples", "tests", "mutation")
KILLED = {1, 3, 36, 24, -24, 152, 255}  # test failure, pytest error, timeout (CPU limit)


@dataclass(frozen=True)
class Module:
    name: str  # functions/core/<name>.py
    title: str
    target: float  # per cent
    tests: tuple[str, ...]  # tests/unit/<file>.py, cheapest first (run in this order)


MODULES = (
    Module("policy", "the gate", 95, ("test_gate_law", "test_gate", "test_gate_properties")),
    Module(
        "quiet_hours",
        "quiet hours",
        95,
        ("test_quiet_hours_law", "test_quiet_hours", "test_quiet_hours_properties"),
    ),
    Module("caps", "frequency caps", 95, ("test_caps_law", "test_gate_law", "test_gate")),
    Module(
        "zones",
        "candidate zones",
        90,
        ("test_zones_law", "test_quiet_hours", "test_gate"),
    ),
    Module("replies", "reply reader", 95, ("test_replies_law", "test_replies", "test_reply_table")),
    Module("segments", "SMS segments", 90, ("test_segments_law", "test_segments")),
    Module("sending", "the send step", 90, ("test_sending_law", "test_sending")),
    Module(
        "lint",
        "template lint",
        90,
        ("test_lint_law", "test_lint", "test_lint_wording", "test_approval"),
    ),
)


@dataclass
class Outcome:
    module: Module
    total: int = 0
    killed: int = 0
    unchecked: int = 0  # a run stopped before it reached these mutants
    date: str = ""
    equivalent: list[tuple[str, str]] = field(default_factory=list)  # (mutant, reason)
    survivors: list[tuple[str, str, str]] = field(default_factory=list)  # (mutant, status, diff)

    @property
    def raw(self) -> float:
        checked = self.total - self.unchecked
        return 100.0 * self.killed / checked if checked else 100.0

    @property
    def score(self) -> float:
        judged = self.total - self.unchecked - len(self.equivalent)
        return 100.0 * self.killed / judged if judged else 100.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    names = [m.name for m in MODULES]
    parser.add_argument(
        "--only", choices=names, action="append", help="run only these, in this order"
    )
    parser.add_argument("--workers", type=int, default=2, help="mutmut --max-children")
    parser.add_argument(
        "--report",
        action="store_true",
        help="mutate nothing: rewrite docs/mutation.md from the last run of each module",
    )
    args = parser.parse_args(argv)
    if not args.report:
        by_name = {module.name: module for module in MODULES}
        for module in [by_name[name] for name in args.only or by_name]:
            print(f"mutating functions/core/{module.name}.py …", file=sys.stderr, flush=True)
            _mutate(module, args.workers)
            # Written after every module, so a long run that is stopped keeps what it measured.
            outcomes = _write_report()
            done = next(o for o in outcomes if o.module is module)
            print(_summary_line(done), file=sys.stderr, flush=True)
    outcomes = _write_report()
    print(f"wrote {OUTPUT.relative_to(ROOT)}", file=sys.stderr)
    return 0 if all(o.score >= o.module.target for o in outcomes) else 1


def _write_report() -> list[Outcome]:
    reviewed = _load_equivalent()
    outcomes = []
    for module in MODULES:
        saved = BUILD / module.name / "outcome.json"
        if saved.exists():
            outcomes.append(_judge(module, json.loads(saved.read_text()), reviewed))
    OUTPUT.write_text(_report(outcomes), encoding="utf-8")
    return outcomes


def _judge(
    module: Module, saved: dict[str, Any], reviewed: dict[str, list[dict[str, str]]]
) -> Outcome:
    outcome = Outcome(
        module,
        total=saved["total"],
        killed=saved["killed"],
        unchecked=saved.get("unchecked", 0),
        date=saved["date"],
    )
    for mutant, status, diff in saved["not_killed"]:
        reason = _reviewed_reason(mutant, diff, reviewed.get(module.name, []))
        if reason is not None:
            outcome.equivalent.append((mutant, reason))
        else:
            outcome.survivors.append((mutant, status, diff))
    return outcome


def _mutate(module: Module, workers: int) -> None:
    work = BUILD / module.name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name in LINKED:
        (work / name).symlink_to(ROOT / name, target_is_directory=True)
    tests = [
        f"tests/unit/{t}.py" for t in module.tests if (ROOT / "tests/unit" / f"{t}.py").exists()
    ]
    settings = {
        "source_paths": ["functions"],
        "only_mutate": [f"functions/core/{module.name}.py"],
        "also_copy": [name for name in LINKED if name not in ("functions", "tests")],
        "pytest_add_cli_args_test_selection": tests,
        # Each mutant's worker is forked from the process that ran the clean tests: empty
        # the caches the unmutated code filled there (mutation/fresh_caches.py).
        "pytest_add_cli_args": [
            "-p",
            "no:cacheprovider",
            "-p",
            "mutation.fresh_caches",
            "-o",
            "addopts=",
        ],
        "use_git_change_detection": False,
    }
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (work / "pyproject.toml").write_text(pyproject + "\n" + _toml_table(settings))
    log = work / "mutmut.log"
    with log.open("w") as out:
        subprocess.run(
            [_mutmut(), "run", "--max-children", str(workers)],
            cwd=work,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
            env={**os.environ, "TZ": "UTC", "RUNG_MUTATION_TEST_ORDER": ",".join(module.tests)},
        )
    meta = work / "mutants" / "functions" / "core" / f"{module.name}.py.meta"
    if not meta.exists():
        raise SystemExit(f"mutmut produced no results for {module.name}; see {log}")
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    ordered = sorted(codes.items(), key=lambda kv: _order(kv[0]))
    saved = {
        "date": f"{datetime.now(UTC):%Y-%m-%d}",
        "total": len(codes),
        "killed": sum(1 for _, code in ordered if code in KILLED),
        "unchecked": sum(1 for _, code in ordered if code is None),
        "not_killed": [
            (mutant, _status(code), _diff(work, mutant))
            for mutant, code in ordered
            if code not in KILLED and code is not None
        ],
    }
    (work / "outcome.json").write_text(json.dumps(saved, indent=1, ensure_ascii=False))


def _mutmut() -> str:
    return str(Path(sys.executable).with_name("mutmut"))


def _toml_table(settings: dict[str, object]) -> str:
    lines = ["[tool.mutmut]"]
    for key, value in settings.items():
        lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def _order(mutant: str) -> tuple[str, int]:
    stem, _, number = mutant.rpartition("__mutmut_")
    return stem, int(number) if number.isdigit() else 0


def _status(code: int | None) -> str:
    return {0: "survived", 5: "no tests", 33: "no tests", None: "not checked"}.get(
        code, f"exit {code}"
    )


def _diff(work: Path, mutant: str) -> str:
    shown = subprocess.run(
        [_mutmut(), "show", mutant], cwd=work, capture_output=True, text=True, check=False
    )
    return "\n".join(
        line
        for line in shown.stdout.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )


def function_of(mutant: str) -> str:
    """`functions.core.caps.x_first_block__mutmut_3` ⇒ `first_block`;
    `functions.core.lint.xǁ_Checkǁrequired__mutmut_9` ⇒ `_Check.required`."""
    stem = mutant.rpartition("__mutmut_")[0].rpartition(".")[2]
    if stem.startswith("xǁ"):
        return ".".join(part for part in stem[2:].split("ǁ") if part)
    return stem.removeprefix("x_")


def _changed(diff: str) -> tuple[str, ...]:
    return tuple(" ".join(line[1:].split()) for line in diff.splitlines())


def _reviewed_reason(mutant: str, diff: str, reviewed: list[dict[str, str]]) -> str | None:
    """The reason recorded for this mutant, matched on its function and changed lines."""
    changed = _changed(diff)
    for entry in reviewed:
        if entry["function"] != function_of(mutant):
            continue
        expected = (*_changed(entry["removed"]), *_changed(entry["added"]))
        if expected == changed:
            return entry["reason"]
    return None


def _load_equivalent() -> dict[str, list[dict[str, str]]]:
    data = tomllib.loads(EQUIVALENT.read_text(encoding="utf-8"))
    by_module: dict[str, list[dict[str, str]]] = {}
    for entry in data.get("mutant", []):
        removed = "\n".join(f"-{line}" for line in entry["removed"].splitlines())
        added = "\n".join(f"+{line}" for line in entry["added"].splitlines())
        by_module.setdefault(entry["module"], []).append(
            {**entry, "removed": removed, "added": added}
        )
    return by_module


def _summary_line(o: Outcome) -> str:
    return (
        f"  {o.module.name}: {o.score:.1f} % ({o.killed} killed of {o.total}, "
        f"{len(o.equivalent)} reviewed equivalent, {len(o.survivors)} surviving)"
    )


def _report(outcomes: list[Outcome]) -> str:
    lines = [
        "# Mutation testing",
        "",
        f"Measured by `make mutation` with mutmut {version('mutmut')} and Python "
        f"{platform.python_version()}, on the dates in the table. Each module of "
        "`functions/core` is mutated alone, against the fast unit tests named beside it. A "
        "mutant is killed when one of those tests fails or runs out of time. Score = killed "
        '/ (mutants − not checked − reviewed equivalents); "not checked" is non-zero only '
        "when a run was stopped before it reached every mutant.",
        "",
        "| module | what | measured | mutants | not checked | killed | reviewed equivalent "
        "| surviving | killed / checked | score | target |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for o in outcomes:
        tests = ", ".join(o.module.tests)
        lines.append(
            f"| `{o.module.name}` | {o.module.title} (tests: {tests}) | {o.date} | {o.total} "
            f"| {o.unchecked} | {o.killed} "
            f"| {len(o.equivalent)} | {len(o.survivors)} | {o.raw:.1f} % | {o.score:.1f} % "
            f"| {o.module.target:.0f} % |"
        )
    lines += ["", (ROOT / "mutation" / "NOTES.md").read_text(encoding="utf-8").strip(), ""]
    surviving = [(o.module.name, s) for o in outcomes for s in o.survivors]
    lines += ["## Surviving mutants (not reviewed)", ""]
    if not surviving:
        lines.append("None.")
    for module, (mutant, status, diff) in surviving:
        lines += [f"- `{module}` `{function_of(mutant)}` ({status}):", "", "  ```diff"]
        lines += [f"  {line}" for line in diff.splitlines()] + ["  ```", ""]
    lines += ["", "## Reviewed equivalent mutants", ""]
    for o in outcomes:
        for mutant, reason in o.equivalent:
            lines.append(f"- `{o.module.name}` `{function_of(mutant)}`: {reason}")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
