"""`rung pgp-key create|install` — the OpenPGP key lenders encrypt their files to.

`create --out DIR` makes a new key pair: `rung-secret.asc` (the secret key, readable by you
only; never send it anywhere but Secrets Manager) and `rung-public.asc` (give it to every
lender that encrypts its files). `install --key FILE --secret-arn ARN` stores the secret key in
the stack's secret (stack output of the `PgpKey` secret; `--endpoint-url` for a local
endpoint), after checking it can decrypt. Until a key is installed, encrypted files are rejected
whole with a reason saying so.
Exit 0 done, 2 unusable input or AWS unreachable.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import boto3
import pysequoia
from botocore.exceptions import BotoCoreError, ClientError

from functions.adapters.openpgp import PRIVATE_KEY_HEADER

EXIT_OK, EXIT_USAGE = 0, 2
SECRET_FILE, PUBLIC_FILE = "rung-secret.asc", "rung-public.asc"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "pgp-key",
        help="create or install the OpenPGP key lenders encrypt their files to",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=("create", "install"))
    parser.add_argument("--out", type=Path, help="create: folder for the two key files")
    parser.add_argument(
        "--user-id",
        default="Rung lender files",
        help="create: the key's user id, e.g. 'Acme Collections <files@acme.example>'",
    )
    parser.add_argument("--key", type=Path, help="install: the secret key file")
    parser.add_argument("--secret-arn", help="install: the stack's PgpKey secret")
    parser.add_argument("--region", help="AWS region (default: boto3's)")
    parser.add_argument("--endpoint-url", help="local endpoint, e.g. moto_server")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "create":
        return _create(args.out, args.user_id) if args.out else _usage("create needs --out DIR")
    if not (args.key and args.secret_arn):
        return _usage("install needs --key FILE and --secret-arn ARN")
    return _install(args.key, args.secret_arn, args.region, args.endpoint_url)


def _usage(message: str) -> int:
    print(f"rung pgp-key: {message}", file=sys.stderr)
    return EXIT_USAGE


def _create(folder: Path, user_id: str) -> int:
    secret_path, public_path = folder / SECRET_FILE, folder / PUBLIC_FILE
    if secret_path.exists() or public_path.exists():
        return _usage(f"{folder} already holds a key: refusing to overwrite it")
    folder.mkdir(parents=True, exist_ok=True)
    key = pysequoia.Tsk.generate(user_id)
    descriptor = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as secret:
        secret.write(str(key))
    certificate = key.extract_certificate()
    public_path.write_text(str(certificate), encoding="ascii")
    print(f"secret key: {secret_path} (install it with `rung pgp-key install`, then delete it)")
    print(f"public key: {public_path} (give it to lenders); fingerprint {certificate.fingerprint}")
    return EXIT_OK


def _install(path: Path, secret_arn: str, region: str | None, endpoint: str | None) -> int:
    try:
        text = path.read_text(encoding="ascii")
        if not text.lstrip().startswith(PRIVATE_KEY_HEADER):
            return _usage(f"{path} is not an ASCII-armored OpenPGP secret key")
        pysequoia.Tsk.from_bytes(text.encode("ascii")).decryptor()
    except (OSError, UnicodeDecodeError, RuntimeError, ValueError) as exc:
        return _usage(f"{path}: {exc}")
    try:
        client = boto3.client("secretsmanager", region_name=region, endpoint_url=endpoint)
        client.put_secret_value(SecretId=secret_arn, SecretString=text)
    except (BotoCoreError, ClientError) as exc:
        return _usage(f"could not store the key: {exc}")
    print(f"installed in {secret_arn}; encrypted lender files are decrypted from now on")
    return EXIT_OK
