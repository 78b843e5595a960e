"""Peak memory of decrypting an OpenPGP lender file, by file size.

Each decryption runs in a fresh child process that reports its own peak resident memory: the
schedule function's way (`OpenPgpDecryption`, files read through buffers) beside Sequoia's default
(files mapped into memory), on the same encrypted files.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROW = b"A-000001,+12025550123,a@example.com,100.00,USD,2026-11-01\n"
HEADER = b"account_id,phone,email,amount_due,currency,due_date\n"

CHILD = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path

    key, encrypted, how = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    if how == "buffered":
        from functions.adapters.openpgp import OpenPgpDecryption

        with encrypted.open("rb") as source:
            with OpenPgpDecryption(key.read_text).open(source, None) as plain:
                for _ in iter(lambda: plain.read(1 << 20), b""):
                    pass
    else:
        import pysequoia

        os.environ.pop("SEQUOIA_DONT_MMAP", None)
        decryptor = pysequoia.Tsk.from_bytes(key.read_bytes()).decryptor()
        pysequoia.decrypt_file(encrypted, Path(sys.argv[4]), decryptor=decryptor)
    # VmHWM is this program's own peak: ru_maxrss would carry the parent's over from the fork
    status = Path("/proc/self/status").read_text().splitlines()
    print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) // 1024)
    """
)


def run(quick: bool = False) -> str:
    import pysequoia

    sizes = (8, 32) if quick else (32, 128, 256)
    rows = []
    with tempfile.TemporaryDirectory(prefix="rung-bench-pgp-") as folder:
        ours = pysequoia.Tsk.generate("Rung <files@rung.invalid>")
        key = Path(folder) / "secret.asc"
        key.write_text(str(ours))
        for mib in sizes:
            encrypted = Path(folder) / f"{mib}.pgp"
            body = HEADER + ROW * (mib * 1024 * 1024 // len(ROW))
            encrypted.write_bytes(
                pysequoia.encrypt(body, recipients=[ours.extract_certificate()], armor=False)
            )
            del body
            mapped = _peak_mib(key, encrypted, "mapped", Path(folder) / "plain.csv")
            buffered = _peak_mib(key, encrypted, "buffered", Path(folder) / "plain.csv")
            rows.append(f"| {mib} MiB | {mapped} MiB | {buffered} MiB |")
            encrypted.unlink()
    return (
        "## Encrypted lender files (`bench/decrypt.py`)\n\n"
        "Peak resident memory of one process decrypting a binary OpenPGP file (plaintext size "
        "shown), each in a fresh child process. Sequoia maps the files it reads unless told "
        "not to, and a mapped file counts in resident memory as it is read; the schedule "
        "function reads through buffers, so its peak stops growing with the file.\n\n"
        "| plaintext | Sequoia's default (mapped files) | schedule function (buffered) |\n"
        "|---|---|---|\n" + "\n".join(rows)
    )


def _peak_mib(key: Path, encrypted: Path, how: str, plain: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(key), str(encrypted), how, str(plain)],
        check=True,
        capture_output=True,
        text=True,
    )
    plain.unlink(missing_ok=True)
    return int(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
