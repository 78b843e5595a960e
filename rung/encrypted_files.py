"""OpenPGP-encrypted lender files on the operator's machine (`rung validate`, `rung simulate`),
decrypted exactly as the schedule function decrypts them (functions.adapters.openpgp): with our
secret key, and checked against the lender's signing key when its configuration names one."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from functions.adapters.openpgp import OpenPgpDecryption
from functions.core.intake import ENCRYPTED_SUFFIXES
from functions.core.lenders import LenderConfig


def is_encrypted(path: Path) -> bool:
    return path.name.lower().endswith(ENCRYPTED_SUFFIXES)


def read_key(path: Path | None) -> str:
    """Our ASCII-armored secret key, or "" (encrypted files are then refused, naming why)."""
    return path.read_text(encoding="ascii") if path is not None else ""


@contextmanager
def plaintext_path(path: Path, lender: LenderConfig, key: str) -> Iterator[Path]:
    """A path to the file's plaintext: `path` itself, or a private temporary decrypted copy
    while in use. FileRejected names why an encrypted file cannot be read."""
    if not is_encrypted(path):
        yield path
        return
    decryption = OpenPgpDecryption(lambda: key)
    with tempfile.TemporaryDirectory(prefix="rung-") as folder:
        copy = Path(folder) / path.name.rsplit(".", 1)[0]
        with (
            path.open("rb") as stored,
            decryption.open(stored, lender.pgp_signing_key) as plain,
            copy.open("wb") as out,
        ):
            shutil.copyfileobj(plain, out)
        yield copy
