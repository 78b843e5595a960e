"""Cold-start benchmark: each Lambda handler's import against `import boto3` alone.

Builds the Lambda asset as a synth does (infra/bundling.py) and a virtualenv of the runtime's
Python holding what the Lambda runtime and the Powertools layer provide (boto3,
aws-lambda-powertools[tracer]). Then, in fresh interpreters with the asset first on the path
and the environment the stack gives each function, it alternates the baseline (`import boto3`)
and a subject (import the handler module and validate its settings model, as the first
invocation does), and measures each process's CPU time (user + system, from
`resource.getrusage(RUSAGE_CHILDREN)` deltas): CPU time, not wall time, so other work on the
machine does not skew the ratio. `python -m bench.cold_start [--quick]` prints the section.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import tomllib
from functools import partial
from pathlib import Path

from bench.gate import _top_imports
from bench.harness import Usage, alternate, median_cpu, run_child
from functions.settings import FUNCTION_SETTINGS, Settings
from infra.bundling import build_asset, bytecode_compiler, runtime_pins
from infra.paths import BUNDLE_CACHE, PROJECT_ROOT
from infra.stack_config import CONTEXT_KEY, RungStackConfig, cdk_json_context
from rung.access.stack import environment_of

TARGET_RATIO = 1.5
# Recorded figures of earlier layouts (this benchmark, same machine; --quick unless the row
# says otherwise), kept so every run shows what changed: median CPU ms of `import boto3` / of
# the handler. The asset grew between the last two days' rows with dependencies other work
# added; the 2026-12-02 rows measure both layouts with that asset, in one session.
EARLIER = """| layout | send | schedule | optout | unsubscribe | asset unzipped / zipped |
| --- | ---: | ---: | ---: | ---: | ---: |
| sources only, X-Ray SDK traced every handler | 146 / 827: 5.66× | 149 / 660: 4.42× | \
144 / 799: 5.56× | 145 / 824: 5.69× | 99.5 / 27.5 MiB, 3,704 files |
| + unchecked-hash bytecode, phone geocoding and carrier data left out | 116 / 406: 3.51× | \
116 / 378: 3.25× | 115 / 414: 3.59× | 115 / 432: 3.74× | 91.3 / 30.5 MiB, 5,084 files |
| + no X-Ray SDK (Lambda's active tracing only) | 114 / 257: 2.25× | 113 / 205: 1.81× | \
115 / 282: 2.44× | 114 / 265: 2.32× | same |
| same layout, again on 2026-12-02 (15 runs, a busier machine) | 250 / 581: 2.33× | \
229 / 416: 1.82× | 219 / 532: 2.43× | 233 / 543: 2.33× | 108.4 / 36.1 MiB, 5,460 files |
| + no pydantic-settings; holidays, Jinja2, Babel, email-validator, OpenCC, confusables and \
rapidfuzz on first use (15 runs, same session) | 228 / 402: 1.76× | 222 / 351: 1.59× | \
232 / 449: 1.94× | 239 / 432: 1.80× | same |
| same layout, again later on 2026-12-02 (15 runs, a quieter machine) | 175 / 309: 1.76× | \
168 / 272: 1.62× | 162 / 322: 1.99× | 161 / 290: 1.81× | 108.4 / 36.1 MiB, 5,464 files |
| + handlers read their own events, botocore's Config with the send clients, configuration \
pre-parsed, phonenumbers and SES models on first use where a path reads none, no \
pydantic-settings in the asset (15 runs, same \
session) | 180 / 229: 1.27× | 182 / 264: 1.45× | 182 / 258: 1.41× | 164 / 222: 1.35× | \
107.8 / 35.9 MiB, 5,407 files |"""
BASELINE = "import boto3"
# Handler module → its settings model (functions/settings.py), validated at cold start.
HANDLERS = {
    "functions.send.handler": "SendSettings",
    "functions.schedule.handler": "ScheduleSettings",
    "functions.optout.handler": "OptoutSettings",
    "functions.optout.unsubscribe": "UnsubscribeSettings",
}


def runtime_venv(python_version: str) -> Path:
    """A virtualenv of the runtime's Python with boto3 and the Powertools layer's package."""
    compiler = bytecode_compiler(python_version)
    if compiler is None:
        raise SystemExit(f"the cold-start benchmark needs python{python_version}")
    declared = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    provided = [
        text
        for text in declared["project"]["dependencies"]
        if text.startswith(("boto3", "aws-lambda-powertools"))
    ]
    venv = BUNDLE_CACHE / f"cold-start-{python_version}"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([compiler, "-m", "venv", venv], check=True)
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *provided],
            check=True,
        )
    return python


def lambda_environment(settings_model: str) -> dict[str, str]:
    """What the stack sets for a function with this settings model, plus Lambda's own
    variables (with AWS_LAMBDA_FUNCTION_NAME set, Powertools' Tracer is active, as deployed)."""
    (model,) = (m for m in FUNCTION_SETTINGS.values() if m.__name__ == settings_model)
    # The stack leaves RUNG_CONFIG_ROOT unset (the configuration beside the code) and fills
    # ARNs, URLs and configuration set names in at deploy time: a placeholder stands in.
    stack = {
        name: value or f"rung-{name.lower()}"
        for name, value in environment_of(Settings()).items()
        if name in model.variables() and name != "RUNG_CONFIG_ROOT"
    }
    return {
        "PATH": os.environ.get("PATH", ""),
        "TZ": "UTC",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "rung-cold-start",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "POWERTOOLS_SERVICE_NAME": "rung",
        "POWERTOOLS_METRICS_NAMESPACE": "Rung",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        **stack,
    }


def subject_code(module: str, settings_model: str) -> str:
    settings = f"from functions.settings import {settings_model} as S; S.from_environment()"
    return f"import {module}; {settings}"


def measure(python: Path, asset: Path, runs: int) -> dict[str, dict[str, float]]:
    """Median CPU ms of the baseline, of each subject and of a bare interpreter, alternating
    baseline and subject run by run (bench/harness.py)."""
    results: dict[str, dict[str, float]] = {}
    for module, model in HANDLERS.items():
        env = {**lambda_environment(model), "PYTHONPATH": str(asset)}

        def child(code: str, env: dict[str, str] = env) -> Usage:
            return run_child([python, "-c", code], cwd=asset, env=env)

        subject = subject_code(module, model)
        bare = [child("pass") for _ in range(runs)]
        compared = alternate(partial(child, BASELINE), partial(child, subject), runs)
        results[module] = {
            "bare_ms": median_cpu(bare) * 1000,
            "baseline_ms": compared.baseline_cpu * 1000,
            "subject_ms": compared.subject_cpu * 1000,
        }
    return results


def import_profile(python: Path, asset: Path) -> list[tuple[str, float]]:
    module, model = next(iter(HANDLERS.items()))
    env = {**lambda_environment(model), "PYTHONPATH": str(asset)}
    done = subprocess.run(
        [python, "-X", "importtime", "-c", subject_code(module, model)],
        cwd=asset,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return _top_imports(done.stderr, count=10)


def asset_size(asset: Path) -> tuple[int, int, int]:
    """Bytes on disk unzipped, bytes of the zip Lambda downloads, and the number of files."""
    files = [path for path in asset.rglob("*") if path.is_file()]
    with tempfile.TemporaryDirectory() as scratch:
        archive = shutil.make_archive(str(Path(scratch) / "asset"), "zip", asset)
        zipped = Path(archive).stat().st_size
    return sum(path.stat().st_size for path in files), zipped, len(files)


def run(quick: bool = False, asset: Path | None = None) -> str:
    python_version = RungStackConfig.from_context(cdk_json_context()[CONTEXT_KEY]).lambda_python
    python = runtime_venv(python_version)
    with tempfile.TemporaryDirectory() as scratch:
        if asset is None:
            asset = Path(scratch) / "asset"
            build_asset(asset, python_version, runtime_pins(), bytecode_compiler(python_version))
        results = measure(python, asset, 5 if quick else 15)
        top = import_profile(python, asset)
        size, zipped, files = asset_size(asset)
        compiled = sum(1 for _ in asset.rglob("*.pyc"))
    rows = []
    for module, figures in results.items():
        ratio = figures["subject_ms"] / figures["baseline_ms"]
        bare = figures["bare_ms"]
        import_ratio = (figures["subject_ms"] - bare) / (figures["baseline_ms"] - bare)
        rows.append(
            f"| `{module}` | {figures['baseline_ms']:.0f} | {figures['subject_ms']:.0f} | "
            f"{ratio:.2f}× | {import_ratio:.2f}× | "
            f"{'meets' if ratio <= TARGET_RATIO else '**not met**'} |"
        )
    bare_ms = statistics.median(figures["bare_ms"] for figures in results.values())
    table = "\n".join(rows)
    profile = "\n".join(f"| `{name}` | {ms:.0f} |" for name, ms in top)
    return f"""## Lambda cold start (`bench/cold_start.py`)

Python {python_version} (the runtime's), the asset as a synth builds it, boto3 and
aws-lambda-powertools[tracer] in the interpreter's site-packages (what the runtime and the
Powertools layer provide), the environment the stack gives each function and
`AWS_LAMBDA_FUNCTION_NAME` set (so Powertools behaves as deployed). Each figure is the median
CPU time (user + system) of {5 if quick else 15} fresh interpreters; baseline and subject
alternate run by run. Subject: import the handler module and validate its settings model.
A bare interpreter (`python -c pass`) takes {bare_ms:.0f} ms of it.

| handler | `import boto3`, ms | handler, ms | ratio | ratio less bare interpreter | \
target ≤ {TARGET_RATIO}× |
| --- | ---: | ---: | ---: | ---: | --- |
{table}

Earlier layouts, measured the same way (5 runs each unless the row says otherwise;
`import boto3` ms / handler ms: ratio), in the order the changes were made:

{EARLIER}

Asset now: {size / 2**20:.1f} MiB unzipped, {zipped / 2**20:.1f} MiB zipped, {files:,} files
({compiled:,} of them `.pyc`).

Import of `functions.send.handler` by top-level package (sum of self times, `-X importtime`,
one run):

| package | ms |
| --- | ---: |
{profile}

What each change removed, and what each function still imports and why: docs/decisions.md,
"Cold start".
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    parser.add_argument(
        "--asset", type=Path, help="measure this built asset directory instead of building one"
    )
    args = parser.parse_args(argv)
    print(run(quick=args.quick, asset=args.asset))
    return 0


if __name__ == "__main__":
    sys.exit(main())
