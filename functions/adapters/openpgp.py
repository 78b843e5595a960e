"""OpenPGP-encrypted lender files, decrypted with Sequoia (`pysequoia`: no gpg binary needed).

The encrypted object is spooled to a private temporary folder (Lambda's /tmp), decrypted file to
file by Sequoia, and the plaintext is read from disk by the same streaming CSV reader as any
upload; both files are removed when intake is done. Our secret key is read from Secrets Manager
only when an encrypted file arrives.

Sequoia maps the files it reads into memory unless `SEQUOIA_DONT_MMAP` is set; a mapped file
counts in the function's resident memory as it is read (a 400 MiB file peaked at 812 MiB). Read
through buffers, decryption holds a fixed amount whatever the file's size (about 270 MiB at
200 and at 400 MiB: docs/performance.md), so the setting is made before every decryption.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from functions.core.errors import FileRejected

PRIVATE_KEY_HEADER = "-----BEGIN PGP PRIVATE KEY BLOCK-----"
SIGNATURE_FAILED = "Signature verification failed"


class OpenPgpDecryption:
    """`secret_key` returns our ASCII-armored secret key (or anything else while none is
    installed: such a value rejects encrypted files with a reason saying so)."""

    def __init__(self, secret_key: Callable[[], str]) -> None:
        self._secret_key = secret_key

    @contextmanager
    def open(self, encrypted: BinaryIO, signed_by: str | None) -> Iterator[BinaryIO]:
        import pysequoia  # only when an encrypted file arrives: keeps cold starts light

        key = self._secret_key()
        if not key.lstrip().startswith(PRIVATE_KEY_HEADER):
            raise FileRejected(
                "the file is OpenPGP-encrypted but no decryption key is installed "
                "(see `rung pgp-key` in the README)"
            )
        os.environ["SEQUOIA_DONT_MMAP"] = "1"  # read through buffers: constant memory
        decryptor = pysequoia.Tsk.from_bytes(key.encode("ascii")).decryptor()
        lender = pysequoia.Cert.from_bytes(signed_by.encode("ascii")) if signed_by else None
        with tempfile.TemporaryDirectory(prefix="rung-pgp-") as folder:
            source, plain = Path(folder) / "upload.pgp", Path(folder) / "upload.csv"
            with source.open("wb") as spool:
                shutil.copyfileobj(encrypted, spool, 1024 * 1024)
            try:
                result = pysequoia.decrypt_file(
                    source,
                    plain,
                    decryptor=decryptor,
                    store=(lambda _key_ids: [lender]) if lender else None,
                )
            except (OSError, RuntimeError, ValueError) as failed:
                # Sequoia's errors carry a Rust backtrace after the first line: keep the reason.
                raise FileRejected(_reason(str(failed), lender is not None)) from failed
            if lender is not None and not any(
                signature.certificate == lender.fingerprint for signature in result.valid_sigs
            ):
                raise FileRejected("the file is not signed by the lender's signing key")
            source.unlink()
            with plain.open("rb") as stream:
                yield stream


def _reason(error: str, signature_required: bool) -> str:
    if signature_required and SIGNATURE_FAILED in error:
        return "the file is not signed by the lender's signing key"
    first = error.strip().splitlines()[0] if error.strip() else "unreadable OpenPGP data"
    return f"the file could not be decrypted: {first}"
