"""`rung lenders push PATH --bucket B` / `rung lenders list --bucket B` — add or change a lender
without a deploy.

`push` validates every `{lender_id}.yaml` in PATH (a file or a folder) exactly as the functions
will, and stores them under `lenders/` in the stack's bucket only when all are valid; the
functions pick a change up within a minute. `list` shows each lender the functions can see:
stored in the bucket, or shipped in `config/lenders/`, and whether it validates.
What still needs a deploy (a new SMS number, SES identity, receipt address): README, Adding or
changing a lender without a deploy. Exit 0 ok, 1 `list` found an invalid stored file,
2 invalid input or AWS unreachable.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from functions.adapters.lender_store import S3LenderSource, lender_key
from functions.core.errors import ConfigError
from functions.core.lenders import ShippedLenders, parse_lender
from functions.settings import Settings
from rung.commands.failure import CommandError

EXIT_OK = 0
EXIT_INVALID_STORED = 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "lenders",
        help="push or list lender configurations in the stack's bucket (no deploy)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=("push", "list"))
    parser.add_argument("path", nargs="?", type=Path, help="push: a lender YAML file or folder")
    parser.add_argument(
        "--bucket",
        default=Settings().uploads_bucket,
        help="the stack's bucket (default: $RUNG_UPLOADS_BUCKET)",
    )
    parser.add_argument("--region", help="AWS region (default: boto3's)")
    parser.add_argument("--endpoint-url", help="local endpoint, e.g. moto_server")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.bucket:
        raise CommandError("name the stack's bucket (--bucket, or $RUNG_UPLOADS_BUCKET)")
    try:
        client = boto3.client("s3", region_name=args.region, endpoint_url=args.endpoint_url)
        if args.action == "push":
            return _push(args, client)
        return _list(args, client)
    except (ClientError, BotoCoreError) as exc:
        raise CommandError(f"s3://{args.bucket}/lenders/: {exc}") from exc


def _files(path: Path | None) -> list[Path]:
    if path is None:
        raise CommandError("push needs a lender YAML file or a folder of them")
    if path.is_dir():
        files = sorted(path.glob("*.yaml"))
        if not files:
            raise CommandError(f"{path}: no .yaml lender files")
        return files
    if not path.is_file():
        raise CommandError(f"{path}: no such file or folder")
    return [path]


def _push(args: argparse.Namespace, client: object) -> int:
    files = _files(args.path)
    problems = []
    for file in files:
        try:
            parse_lender(file.read_text(encoding="utf-8"), str(file), file.stem)
        except (ConfigError, UnicodeDecodeError) as exc:
            problems.append(str(exc))
    if problems:
        # Nothing stored: a half-pushed set of lenders is worse than none.
        raise CommandError("nothing pushed; " + " | ".join(problems))
    for file in files:
        client.put_object(  # type: ignore[attr-defined]
            Bucket=args.bucket,
            Key=lender_key(file.stem),
            Body=file.read_bytes(),
            ContentType="application/yaml",
        )
    pushed = [file.stem for file in files]
    if args.json:
        print(json.dumps({"pushed": pushed, "bucket": args.bucket}))
    else:
        for lender_id in pushed:
            print(f"pushed   {lender_id} -> s3://{args.bucket}/{lender_key(lender_id)}")
    return EXIT_OK


def _list(args: argparse.Namespace, client: object) -> int:
    shipped = ShippedLenders(Settings().config_root)
    source = S3LenderSource(args.bucket, shipped, client=client)
    shipped_ids = set(shipped.ids())
    rows = []
    for lender_id in source.ids():
        stored = _stored(client, args.bucket, lender_id)
        row: dict[str, object] = {
            "lender_id": lender_id,
            "source": "stored" if stored else "shipped",
            "shipped_too": stored and lender_id in shipped_ids,
            "valid": True,
            "error": "",
        }
        try:
            source.get(lender_id)
        except ConfigError as exc:
            row.update(valid=False, error=str(exc))
        rows.append(row)
    if args.json:
        print(json.dumps({"lenders": rows, "bucket": args.bucket}))
    else:
        for row in rows:
            state = "ok" if row["valid"] else f"INVALID: {row['error']}"
            print(f"{row['lender_id']:<20} {row['source']:<8} {state}")
    return EXIT_OK if all(row["valid"] for row in rows) else EXIT_INVALID_STORED


def _stored(client: object, bucket: str, lender_id: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=lender_key(lender_id))  # type: ignore[attr-defined]
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code", "")) in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True
