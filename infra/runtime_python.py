"""Find an interpreter of the Lambda runtime's Python version on this machine.

Used to precompile the Lambda asset's bytecode (infra/bundling.py) and by `make test-runtime`
(`python3 -m infra.runtime_python 3.13` prints its path). Looks on PATH (`python3.13`), then
under pyenv ($PYENV_ROOT, default ~/.pyenv). Standard library only: the Makefile runs it
before any virtualenv exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def runtime_python(version: str) -> Path | None:
    """The first working `python<version>` on PATH or under pyenv, else None."""
    name = f"python{version}"
    on_path = shutil.which(name)
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    candidates = [Path(on_path)] if on_path else []
    candidates += sorted(pyenv.glob(f"{version}.*/bin/{name}"))
    for candidate in candidates:
        try:
            subprocess.run([candidate, "-c", "pass"], check=True, capture_output=True)  # noqa: S603
        except (OSError, subprocess.CalledProcessError):
            continue
        return candidate
    return None


def missing_message(version: str) -> str:
    """What to install when no interpreter of `version` exists."""
    return (
        f"python{version} is missing: install it (pyenv install {version}, or your OS "
        f"package python{version} with its venv module)"
    )


def main(argv: list[str]) -> int:
    (version,) = argv
    found = runtime_python(version)
    if found is None:
        print(missing_message(version), file=sys.stderr)
        return 1
    print(found)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
