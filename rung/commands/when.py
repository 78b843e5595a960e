"""`rung when` — may we contact this borrower now? Quiet hours and blackout days only.

JSON: {"profile", "zones", "allowed", "next_allowed_at", "reason", "holiday", "zone_sources",
"notes"}: `reason` says what blocks the instant (holiday, blackout_day, quiet_hours; null when
allowed), `holiday` names the public holiday that does ({"name", "date", "zone", "calendar"}),
`zone_sources` maps each candidate zone to the data that suggested it (lender timezone,
US state, country, phone, a split area code); `notes` names location data set aside and why
(a toll-free number beside an address). Frequency caps need contact history and are not
shown here; `rung simulate` applies them.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from functions.adapters.dynamo import DynamoAccountStore
from functions.core.clock import SystemClock
from functions.core.errors import ConfigError
from functions.core.lenders import load_lender
from functions.core.models import Channel
from functions.core.policy import GateInput, Verdict, decide
from functions.core.preferences import binding, describe
from functions.core.profiles import load_profiles
from functions.core.quiet_hours import LocalWindow, blocking_zone, next_allowed, zone
from functions.core.zones import InvalidLocation
from functions.settings import Settings
from rung.commands.failure import CommandError

EXIT_OK = 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "when",
        help="may we contact a borrower now (quiet hours at every candidate zone)?",
        description="Show the jurisdiction profile, the candidate time zones and whether a "
        "reminder may go out at an instant; if not, the next allowed instant.",
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--phone", help="the borrower's phone, E.164 (+14155550123)")
    who.add_argument(
        "--account",
        help="an account id: its location, status and contact preferences are read from the "
        "accounts table, and the whole gate answers (no opt-out or cap lookup)",
    )
    parser.add_argument("--lender", default="demo", help="lender of --account (default demo)")
    parser.add_argument(
        "--channel",
        choices=[channel.value for channel in Channel],
        default=Channel.SMS.value,
        help="channel of --account to ask about (default sms)",
    )
    parser.add_argument("--accounts-table", default=Settings().accounts_table)
    parser.add_argument("--region", help="AWS region of the accounts table (default: boto3's)")
    parser.add_argument("--endpoint-url", help="local endpoint, e.g. moto_server")
    parser.add_argument("--country", help="ISO 3166 country of the address (US, CN, GB, …)")
    parser.add_argument("--state", help="US state of the address (WA, MA, …)")
    parser.add_argument("--postal", help="postal code (accepted; not used to narrow zones yet)")
    parser.add_argument("--tz", help="IANA zone given by the lender (America/Chicago)")
    parser.add_argument("--at", help="instant to check, ISO 8601 with offset or Z (default: now)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.account:
        return _for_account(args)
    try:
        at = _instant(args.at) if args.at else SystemClock().now()
        book = load_profiles(Settings().config_root)
        evidence = book.atlas.evidence(args.phone, args.country, args.state, args.postal, args.tz)
        region = book.atlas.region_of(args.phone, args.country, args.state)
    except (InvalidLocation, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    profile = book.profile_for_place(region, args.state)
    zones = evidence.zones
    window = profile.local_window
    upcoming = next_allowed(at, zones, profile)
    blocked = blocking_zone(at, zones, window)
    holiday = _holiday(at, blocked, window)
    answer = {
        "profile": profile.name,
        "zones": list(zones),
        "allowed": bool(zones) and upcoming == at,
        "next_allowed_at": _utc_z(upcoming) if upcoming else None,
        "reason": blocked[1] if blocked else None,  # holiday | blackout_day | quiet_hours
        "holiday": holiday,
        "zone_sources": evidence.sources(),
        "notes": list(evidence.notes),
    }
    if args.json:
        print(json.dumps(answer))
        return EXIT_OK
    print(f"profile   {profile.name} (rules {book.version})")
    print(f"window    {profile.window.start:%H:%M}-{profile.window.end:%H:%M} local, in every zone")
    for note in evidence.notes:
        print(f"note      {note}")
    if not zones:
        print("zones     none known: no send (fail closed)")
        return EXIT_OK
    print(f"at        {_utc_z(at)}")
    sources = evidence.sources()
    for name in zones:
        why = "; ".join(sources[name])
        print(f"  {name:<32} {at.astimezone(zone(name)):%a %Y-%m-%d %H:%M %Z}  from {why}")
    if blocked is None:
        print("allowed   yes")
        return EXIT_OK
    print(f"allowed   no ({blocked[1].replace('_', ' ')} in {blocked[0]})")
    if holiday:
        print(f"holiday   {holiday['name']} ({holiday['date']}, {holiday['calendar']} calendar)")
    if upcoming is None:
        print("next      none: the windows of these zones never overlap")
        return EXIT_OK
    print(f"next      {_utc_z(upcoming)}")
    for name in zones:
        print(f"  {name:<32} {upcoming.astimezone(zone(name)):%a %Y-%m-%d %H:%M %Z}")
    return EXIT_OK


def _holiday(
    at: datetime, blocked: tuple[str, str] | None, window: LocalWindow
) -> dict[str, str] | None:
    """The public holiday that blocks `at` in the blocking zone (its local date), if any."""
    if blocked is None or blocked[1] != "holiday" or window.holidays is None:
        return None
    day = at.astimezone(zone(blocked[0])).date()
    name = window.holidays.holiday(day) or ""
    return {
        "name": name,
        "date": day.isoformat(),
        "zone": blocked[0],
        "calendar": window.holidays.label,
    }


def _for_account(args: argparse.Namespace) -> int:
    """The gate's answer for a stored account: its zones, holidays, status and preferences."""
    try:
        at = _instant(args.at) if args.at else SystemClock().now()
        root = Settings().config_root
        lender = load_lender(root, args.lender)
        client = boto3.client("dynamodb", region_name=args.region, endpoint_url=args.endpoint_url)
        account = DynamoAccountStore(args.accounts_table, client=client).get(
            lender.lender_id, args.account
        )
    except (ValueError, ConfigError) as exc:
        raise CommandError(str(exc)) from exc
    except (BotoCoreError, ClientError) as exc:
        raise CommandError(f"cannot read table {args.accounts_table}: {exc}") from exc
    if account is None:
        raise CommandError(f"no account {args.account!r} of lender {lender.lender_id}")
    book = load_profiles(root).for_lender(lender)
    channel = Channel(args.channel)
    gate = GateInput(account=account, channel=channel, now=at, template_version="any")
    result = decide(gate, book)
    sending = result.verdict is Verdict.SEND
    bound = binding(account.contact_preferences, channel)
    blocked = (result.zone, result.reason) if result.reason == "holiday" else None
    upcoming = at if sending else result.until
    preferences: list[dict[str, object]] = [
        {
            "said": describe(p),
            "source": p.source,
            "at": _utc_z(p.at),
            "binding": p is bound.excluded_by or p in bound.hours,
        }
        for p in account.contact_preferences
    ]
    answer = {
        "account": account.account_id,
        "channel": channel.value,
        "profile": result.profile,
        "zones": list(result.zones),
        "allowed": sending,
        "next_allowed_at": _utc_z(upcoming) if upcoming else None,
        "reason": result.reason or None,
        "rule": result.rule,
        "detail": result.detail,
        "holiday": _holiday(at, blocked, book.profiles[result.profile].local_window),
        "preferences": preferences,
    }
    if args.json:
        print(json.dumps(answer, ensure_ascii=False))
        return EXIT_OK
    print(f"account   {account.account_id} ({channel.value}), profile {result.profile}")
    print(f"zones     {', '.join(result.zones) or 'none known: no send (fail closed)'}")
    for item in preferences:
        mark = "" if item["binding"] else " (not binding on this channel)"
        print(f"prefers   {item['said']}{mark}")
    print(f"at        {_utc_z(at)}")
    if sending:
        print("allowed   yes (opt-outs and caps not looked up)")
        return EXIT_OK
    print(f"allowed   no ({result.reason.replace('_', ' ')}: {result.detail})")
    if upcoming is not None:
        print(f"next      {_utc_z(upcoming)}")
    return EXIT_OK


def _instant(text: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"--at: not an ISO 8601 instant: {text!r}") from exc
    if instant.tzinfo is None:
        # A naive time would be read in this machine's zone: refuse rather than guess.
        raise ValueError(f"--at: {text!r} has no UTC offset; add Z or +hh:mm")
    return instant.astimezone(UTC)


def _utc_z(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")
