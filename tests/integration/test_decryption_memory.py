"""Encrypted lender files are decrypted in constant memory: Sequoia reads the spooled file and
writes the plaintext through buffers, never mapping either file into the process.

A mapped file counts in the process's resident memory page by page as it is read, so a mapped
300 MiB upload would need 300 MiB of the schedule function's memory; read through a buffer it
needs a fixed amount whatever the size (figures in docs/performance.md). The test runs the
decryption in a child process and watches the child's memory map from outside while it works:
the control run (Sequoia called without the adapter's setting) shows the watch does see a mapping.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pysequoia
import pytest

ROWS = b"account_id,phone,amount_due,currency,due_date\n" + (
    b"A-000001,+12025550123,100.00,USD,2026-11-01\n" * 600_000
)

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    key, encrypted, how = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    print("ready", flush=True)
    sys.stdin.readline()
    if how == "adapter":
        from functions.adapters.openpgp import OpenPgpDecryption

        with encrypted.open("rb") as source:
            with OpenPgpDecryption(key.read_text).open(source, None) as plain:
                size = sum(len(chunk) for chunk in iter(lambda: plain.read(1 << 20), b""))
    else:
        import os
        import tempfile

        import pysequoia

        os.environ.pop("SEQUOIA_DONT_MMAP", None)
        decryptor = pysequoia.Tsk.from_bytes(key.read_bytes()).decryptor()
        with tempfile.TemporaryDirectory(prefix="rung-pgp-") as folder:
            plain_path = Path(folder) / "upload.csv"
            pysequoia.decrypt_file(encrypted, plain_path, decryptor=decryptor)
            size = plain_path.stat().st_size
    print(size, flush=True)
    """
)


@pytest.fixture(scope="module")
def encrypted_upload(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("pgp")
    ours = pysequoia.Tsk.generate("Rung <files@rung.invalid>")
    key = folder / "rung-secret.asc"
    key.write_text(str(ours))
    encrypted = folder / "upload.csv.pgp"
    encrypted.write_bytes(
        pysequoia.encrypt(ROWS, recipients=[ours.extract_certificate()], armor=False)
    )
    return key, encrypted


def mapped_files_while_decrypting(key: Path, encrypted: Path, how: str) -> set[str]:
    """Every file under a `rung-pgp-` folder (or the upload itself) that the child maps."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(key), str(encrypted), how],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    child.stdin.write("go\n")
    child.stdin.flush()
    seen: set[str] = set()
    maps = Path(f"/proc/{child.pid}/maps")
    while child.poll() is None:
        try:
            lines = maps.read_text().splitlines()
        except (FileNotFoundError, ProcessLookupError):
            break
        seen |= {
            line.split(maxsplit=5)[-1]
            for line in lines
            if "rung-pgp-" in line or str(encrypted) in line
        }
    size = child.stdout.read().strip()
    assert child.wait() == 0
    assert int(size) == len(ROWS)
    return seen


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux's /proc")
def test_the_watch_sees_sequoia_map_a_file_when_left_to_itself(
    encrypted_upload: tuple[Path, Path],
) -> None:
    assert mapped_files_while_decrypting(*encrypted_upload, how="control")


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux's /proc")
def test_the_schedule_functions_decryption_maps_no_file(
    encrypted_upload: tuple[Path, Path],
) -> None:
    assert mapped_files_while_decrypting(*encrypted_upload, how="adapter") == set()
