"""`rung templates lint|preview|push|approve|list` — templates as code, four-eyes approval.

lint and preview are local (files + lender configuration). push, approve and list talk to the
`templates` DynamoDB table: real AWS with boto3's default credentials, or a local endpoint
(`--endpoint-url http://localhost:5000`, e.g. `moto_server`; `--create-table` creates the table
there if it is missing). push lints every file first and stores nothing if one fails. approve
takes the id as list prints it (`reminder_day1/sms.en-US.txt@V`). Exit codes: 0 ok, 1 lint
errors, a push of a failing file or an approval refused, 2 unusable input (bad path, a folder
without templates, unknown template or lender, AWS unreachable).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from functions.core.approval import (
    ApprovalError,
    LintFailedError,
    approve,
    push,
)
from functions.core.channels import BodyRule, spec
from functions.core.clock import SystemClock
from functions.core.errors import ConfigError
from functions.core.lenders import LenderConfig, load_lender
from functions.core.lint import (
    SAMPLE_NOW,
    SAMPLE_UNSUBSCRIBE_URL,
    LintResult,
    lint_template,
    profile_for,
    sample_account,
)
from functions.core.models import Account, Channel, TemplateVersion
from functions.core.render import RenderError, build_variables, render_message
from functions.core.segments import sms_segments
from functions.core.templates import (
    TemplateError,
    TemplateFile,
    discover,
    file_name,
    load,
    template_file,
)
from functions.settings import PROJECT_ROOT, Settings
from rung.commands.failure import CommandError
from rung.commands.local_table import (
    create_local_table,
    missing_table_hint,
    require_local_endpoint,
)

EXIT_OK = 0
EXIT_REFUSED = 1
DEFAULT_ROOT = PROJECT_ROOT / "templates" / "messages"


class UsageError(Exception):
    """Bad command-line input: a CommandError (exit 2) once it leaves the command."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "templates",
        help="lint, preview, push, approve and list message templates",
        description="Message templates as code: lint them against the content rules, preview "
        "them for an account, push versions and approve them (four eyes).",
    )
    commands = parser.add_subparsers(dest="templates_command", required=True, metavar="ACTION")

    lint = commands.add_parser(
        "lint",
        help="lint template files (exit 1 on any error)",
        description="Check template files against the content rules (disclosures, opt-out "
        "wording, links, length) for a lender. Exit 0 clean, 1 any error, 2 nothing to lint.",
    )
    lint.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=DEFAULT_ROOT,
        help="templates root, one template folder or one file",
    )
    _lender_arg(lint)
    lint.set_defaults(handler=_guarded(_lint))

    preview = commands.add_parser(
        "preview",
        help="render one template for an account",
        description="Render one template file for the sample account (or --account) and show "
        "the text, SMS encoding, segments and estimated cost.",
    )
    preview.add_argument("template", help="template id, e.g. reminder_day1")
    preview.add_argument("--channel", required=True, choices=[c.value for c in Channel])
    preview.add_argument("--locale", required=True, help="e.g. en-US, es-US, zh-CN")
    preview.add_argument(
        "--account",
        help="account JSON (or a path to a .json file); its "
        "fields replace those of the built-in sample account",
    )
    preview.add_argument(
        "--at",
        help="instant for days past due, ISO 8601 (default: the "
        "sample's fixed instant, or now when --account is given)",
    )
    preview.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="templates root")
    _lender_arg(preview)
    preview.set_defaults(handler=_guarded(_preview))

    push_cmd = commands.add_parser(
        "push",
        help="store changed files as DRAFT versions (refused if any fails lint)",
        description="Store each changed template file as a DRAFT version in the templates "
        "table. Every file is linted first: if any has an error nothing is stored (exit 1).",
    )
    push_cmd.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=DEFAULT_ROOT,
        help="templates root, one template folder or one file",
    )
    push_cmd.add_argument("--author", required=True, help="who wrote these versions")
    _lender_arg(push_cmd)
    _store_args(push_cmd)
    push_cmd.set_defaults(handler=_guarded(_push))

    approve_cmd = commands.add_parser(
        "approve",
        help="approve a stored version (needs clean lint and a second person)",
        description="Approve one stored DRAFT version. Name it as `templates list` prints it "
        "(reminder_day1/sms.en-US.txt@VERSION), or as TEMPLATE@VERSION with --channel and "
        "--locale. The approver may not be the author; the version must lint clean.",
    )
    approve_cmd.add_argument(
        "ref",
        metavar="FILE@VERSION",
        help="as `templates list` prints it, or TEMPLATE@VERSION with --channel and --locale",
    )
    approve_cmd.add_argument(
        "--channel", choices=[c.value for c in Channel], help="when the id names no file"
    )
    approve_cmd.add_argument("--locale", help="when the id names no file, e.g. en-US")
    approve_cmd.add_argument("--by", required=True, help="approver (not the author)")
    _lender_arg(approve_cmd)
    _store_args(approve_cmd)
    approve_cmd.set_defaults(handler=_guarded(_approve))

    list_cmd = commands.add_parser(
        "list",
        help="stored versions, newest approved marked",
        description="Every stored version with its status, author and approver; * marks the "
        "version in use (the newest approved) for each template, channel and locale.",
    )
    list_cmd.add_argument("template", nargs="?", help="only this template id, e.g. reminder_day1")
    _store_args(list_cmd)
    list_cmd.set_defaults(handler=_guarded(_list))


def _lender_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lender", default="demo", help="lender id (config/lenders/ID.yaml)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _store_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--table",
        default=None,
        help="templates table (default: $RUNG_TEMPLATES_TABLE or rung-templates)",
    )
    parser.add_argument("--region", default=None, help="AWS region (default: boto3's)")
    parser.add_argument("--endpoint-url", default=None, help="local endpoint, e.g. moto_server")
    parser.add_argument(
        "--create-table",
        action="store_true",
        help="create the table first if it is missing (only with --endpoint-url)",
    )
    if not any(action.dest == "json" for action in parser._actions):
        parser.add_argument("--json", action="store_true", help="machine-readable output")


def _guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn expected failures into one clear line and an exit code, never a traceback."""

    def handler(args: argparse.Namespace) -> int:
        # Imported when a templates command runs, so other commands never load botocore.
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return run(args)
        except (UsageError, TemplateError, ConfigError, RenderError) as exc:
            raise CommandError(str(exc)) from exc
        except (ClientError, BotoCoreError) as exc:
            table = args.table or Settings().templates_table
            raise CommandError(
                f"AWS: {missing_table_hint(exc, table, endpoint_url=args.endpoint_url)}"
            ) from exc

    return handler


# -- lint ------------------------------------------------------------------------------------


def _lint(args: argparse.Namespace) -> int:
    lender = load_lender(Settings().config_root, args.lender)
    results: list[tuple[str, str, LintResult]] = []
    for found in _template_files(args.path):
        template = load(found)
        result = lint_template(template, lender=lender, profile_name=profile_for(template))
        results.append((template.file, template.version, result))
    errors = sum(len(r.errors) for _, _, r in results)
    warnings = sum(len(r.findings) - len(r.errors) for _, _, r in results)
    if args.json:
        print(
            json.dumps(
                {
                    "lender": lender.lender_id,
                    "files": [{"file": n, "version": v, **r.to_dict()} for n, v, r in results],
                    "errors": errors,
                    "warnings": warnings,
                },
                ensure_ascii=False,
            )
        )
    else:
        for name, version, result in results:
            status = "ok" if result.ok else "FAIL"
            print(f"{status:<4} {name}@{version} ({result.profile})")
            for finding in result.findings:
                print(f"     {finding.severity.value}: {finding.rule}: {finding.message}")
        print(
            f"{len(results)} files, {errors} errors, {warnings} warnings "
            f"(rules {results[0][2].rules_version if results else '-'})"
        )
    return EXIT_REFUSED if errors else EXIT_OK


def _template_files(path: Path) -> list[TemplateFile]:
    """The template files under `path`; none at all is a mistake, not a clean result."""
    files = discover(path)
    if not files:
        raise UsageError(
            f"{path}: no template files here (a templates root holds one folder per template, "
            f"e.g. reminder_day1/sms.en-US.txt; the shipped root is {DEFAULT_ROOT})"
        )
    return files


# -- preview ---------------------------------------------------------------------------------


def _preview(args: argparse.Namespace) -> int:
    lender = load_lender(Settings().config_root, args.lender)
    channel = Channel(args.channel)
    path = args.root / file_name(args.template, channel, args.locale)
    if not path.is_file():
        raise UsageError(_no_such_template(args.root, args.template, channel, args.locale))
    template = load(template_file(path))
    account = _account(args.account, lender, args.locale)
    now = _instant(args.at) if args.at else (SystemClock().now() if args.account else SAMPLE_NOW)
    shape = spec(channel)
    unsubscribe = SAMPLE_UNSUBSCRIBE_URL if shape.unsubscribe_link else None
    variables = build_variables(
        account, lender, unsubscribe_url=unsubscribe, now=now, locale=args.locale
    )
    message = render_message(template, variables)
    segmented = shape.body_rule is BodyRule.SEGMENTS
    units = sms_segments(message.text).units if segmented else 0
    unit_price: Decimal = getattr(lender.prices, shape.price_field)
    cost = unit_price * (message.segments if segmented else 1)
    answer = {
        "template_id": template.template_id,
        "channel": channel.value,
        "locale": template.locale,
        "version": template.version,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "encoding": message.encoding,
        "units": units,
        "segments": message.segments,
        "estimated_cost": {"currency": lender.prices.currency, "amount": str(cost)},
    }
    if args.json:
        print(json.dumps(answer, ensure_ascii=False))
        return EXIT_OK
    print(f"{template.file}@{template.version}")
    if message.subject is not None:
        print(f"{(shape.heading or 'subject').capitalize()}: {message.subject}\n")
    print(message.text)
    if segmented:
        print(
            f"\n{message.encoding}, {units} units, {message.segments} segment(s), "
            f"≈ {cost} {lender.prices.currency}"
        )
    return EXIT_OK


def _no_such_template(root: Path, template_id: str, channel: Channel, locale: str) -> str:
    """Name what exists instead: the template's files, or the templates there are."""
    folder = root / template_id
    if folder.is_dir():
        have = sorted(
            p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
        )
        return (
            f"template {template_id} has no {channel.value} text in {locale} "
            f"(it has: {', '.join(have) or 'no files'})"
        )
    known = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    return f"no template {template_id} under {root} (there are: {', '.join(known) or 'none'})"


def _account(raw: str | None, lender: LenderConfig, locale: str) -> Account:
    sample = sample_account(lender, locale).model_dump()
    if raw is None:
        return Account.model_validate(sample)
    text = raw if raw.lstrip().startswith("{") else _read(Path(raw))
    try:
        given = json.loads(text, parse_float=Decimal)
        return Account.model_validate({**sample, **given})
    except json.JSONDecodeError as exc:
        raise UsageError(f"--account: not JSON ({exc})") from exc
    except (ValidationError, TypeError) as exc:
        raise UsageError(f"--account: {exc}") from exc


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--account: cannot read {path}: {exc.strerror}") from exc


def _instant(value: str) -> datetime:
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"--at: {value!r} is not ISO 8601") from exc
    if instant.tzinfo is None:
        raise UsageError("--at: give an offset or Z")
    return instant


# -- store commands --------------------------------------------------------------------------


def _store(args: argparse.Namespace) -> Any:
    import boto3

    from functions.adapters.template_store import DynamoTemplateStore

    table = args.table or Settings().templates_table
    if args.create_table:
        require_local_endpoint(table, args.endpoint_url)
    client = boto3.client("dynamodb", region_name=args.region, endpoint_url=args.endpoint_url)
    if args.create_table:
        create_local_table(client, table, range_key="sk")
    return DynamoTemplateStore(table, client=client)


def _push(args: argparse.Namespace) -> int:
    files = _template_files(args.path)
    lender = load_lender(Settings().config_root, args.lender)
    failing = []
    for file in files:
        template = load(file)
        result = lint_template(template, lender=lender, profile_name=profile_for(template))
        failing += [(template.file, finding) for finding in result.errors]
    if failing:
        # A version that cannot be approved is not stored: fix the words, then push.
        lines = "\n".join(f"  {name}: {f.rule}: {f.message}" for name, f in failing)
        raise CommandError(
            f"nothing pushed: {len(failing)} lint error(s) (rung templates lint shows them)\n"
            + lines,
            exit_code=EXIT_REFUSED,
        )
    results = push(_store(args), files, author=args.author, at=SystemClock().now())
    if args.json:
        print(json.dumps([{**asdict(r), "channel": r.channel.value} for r in results]))
        return EXIT_OK
    for r in results:
        state = "new DRAFT" if r.created else "unchanged"
        print(f"{state:<9} {file_name(r.template_id, r.channel, r.locale)}@{r.version}")
    print(f"{sum(r.created for r in results)} new version(s) of {len(results)} file(s)")
    return EXIT_OK


def _approve(args: argparse.Namespace) -> int:
    template_id, channel, locale, version = _reference(args.ref, args.channel, args.locale)
    lender = load_lender(Settings().config_root, args.lender)
    try:
        approved = approve(
            _store(args),
            template_id,
            channel,
            locale,
            version,
            by=args.by,
            at=SystemClock().now(),
            lender=lender,
        )
    except LintFailedError as exc:
        print(f"rung templates approve: {exc}", file=sys.stderr)
        for finding in exc.result.errors:
            print(f"  {finding.rule}: {finding.message}", file=sys.stderr)
        return EXIT_REFUSED
    except ApprovalError as exc:
        print(f"rung templates approve: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    if args.json:
        print(json.dumps(_version_json(approved), ensure_ascii=False))
    else:
        print(
            f"APPROVED {file_name(template_id, approved.channel, approved.locale)}@{version} "
            f"by {approved.approver} (author {approved.author}) at {approved.approved_at}"
        )
    return EXIT_OK


def _reference(ref: str, channel: str | None, locale: str | None) -> tuple[str, Channel, str, str]:
    """`reminder_day1/sms.en-US.txt@V` (as `list` prints it) or `reminder_day1@V` with the
    channel and locale given apart; both given must agree."""
    name, sep, version = ref.partition("@")
    if not sep or not name or not version:
        raise UsageError(
            f"expected FILE@VERSION (as templates list prints it) or TEMPLATE@VERSION, got {ref!r}"
        )
    if "/" not in name:
        if channel is None or locale is None:
            raise UsageError(f"{ref}: TEMPLATE@VERSION needs --channel and --locale")
        return name, Channel(channel), locale, version
    template_id, _, rest = name.partition("/")
    channel_name, _, rest = rest.partition(".")
    named_locale = rest.rpartition(".")[0]
    if channel_name not in {c.value for c in Channel} or not named_locale:
        raise UsageError(f"{ref}: {name!r} is not TEMPLATE/CHANNEL.LOCALE.EXT")
    named_channel = Channel(channel_name)
    if file_name(template_id, named_channel, named_locale) != name:
        raise UsageError(f"{ref}: {name!r} is not TEMPLATE/CHANNEL.LOCALE.EXT")
    if (channel and Channel(channel) is not named_channel) or (locale and locale != named_locale):
        raise UsageError(f"{ref}: --channel/--locale disagree with the file named")
    return template_id, named_channel, named_locale, version


def _list(args: argparse.Namespace) -> int:
    store = _store(args)
    versions = store.versions(args.template)
    in_use = {
        (v.template_id, v.channel, v.locale): store.newest_approved(
            v.template_id, v.channel, v.locale
        )
        for v in versions
    }
    rows = []
    for v in versions:
        current = in_use[(v.template_id, v.channel, v.locale)]
        rows.append(
            {**_version_json(v), "in_use": current is not None and current.version == v.version}
        )
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return EXIT_OK
    for row in rows:
        mark = "*" if row["in_use"] else " "
        approval = f"approved by {row['approver']} {row['approved_at']}" if row["approver"] else ""
        print(
            f"{mark} {row['file']}@{row['version']} {row['status']:<8} "
            f"by {row['author']} {row['created_at']} {approval}".rstrip()
        )
    print(f"{len(rows)} version(s); * = in use (newest approved)")
    return EXIT_OK


def _version_json(v: TemplateVersion) -> dict[str, Any]:
    return {
        "file": file_name(v.template_id, v.channel, v.locale),
        "template_id": v.template_id,
        "channel": v.channel.value,
        "locale": v.locale,
        "version": v.version,
        "status": v.status.value,
        "author": v.author,
        "created_at": v.created_at.isoformat() if v.created_at else None,
        "approver": v.approver,
        "approved_at": v.approved_at.isoformat() if v.approved_at else None,
        "lint": v.lint,
    }
