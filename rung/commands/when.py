"""`rung when` — may we contact this borrower now? Quiet hours and blackout days only.

JSON: {"profile", "zones", "allowed", "next_allowed_at", "zone_sources", "notes"}:
`zone_sources` maps each candidate zone to the data that suggested it (lender timezone,
US state, country, phone, a split area code); `notes` names location data set aside and why
(a toll-free number beside an address). Frequency caps need contact history and are not
shown here; `rung simulate` applies them.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from functions.core.clock import SystemClock
from functions.core.profiles import load_profiles
from functions.core.quiet_hours import blocking_zone, next_allowed, zone
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
    parser.add_argument("--phone", required=True, help="the borrower's phone, E.164 (+14155550123)")
    parser.add_argument("--country", help="ISO 3166 country of the address (US, CN, GB, …)")
    parser.add_argument("--state", help="US state of the address (WA, MA, …)")
    parser.add_argument("--postal", help="postal code (accepted; not used to narrow zones yet)")
    parser.add_argument("--tz", help="IANA zone given by the lender (America/Chicago)")
    parser.add_argument("--at", help="instant to check, ISO 8601 with offset or Z (default: now)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        at = _instant(args.at) if args.at else SystemClock().now()
        book = load_profiles(Settings().config_root)
        evidence = book.atlas.evidence(args.phone, args.country, args.state, args.postal, args.tz)
        region = book.atlas.region_of(args.phone, args.country, args.state)
    except (InvalidLocation, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    profile = book.profile_for_place(region, args.state)
    zones = evidence.zones
    upcoming = next_allowed(at, zones, profile)
    answer = {
        "profile": profile.name,
        "zones": list(zones),
        "allowed": bool(zones) and upcoming == at,
        "next_allowed_at": _utc_z(upcoming) if upcoming else None,
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
    blocked = blocking_zone(at, zones, profile.local_window)
    if blocked is None:
        print("allowed   yes")
        return EXIT_OK
    print(f"allowed   no ({blocked[1].replace('_', ' ')} in {blocked[0]})")
    if upcoming is None:
        print("next      none: the windows of these zones never overlap")
        return EXIT_OK
    print(f"next      {_utc_z(upcoming)}")
    for name in zones:
        print(f"  {name:<32} {upcoming.astimezone(zone(name)):%a %Y-%m-%d %H:%M %Z}")
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
