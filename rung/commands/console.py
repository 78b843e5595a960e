"""`rung console` — the ops console on this machine, over a populated local world.

Runs the samples (accounts, payments and replies, as `make demo` does) through the simulator
on the local world, then serves the console on http://127.0.0.1:PORT/ until Ctrl-C. The KPIs,
experiments and capacity-plan pages show that run's figures, as `rung kpis`, `rung experiments
report` and `rung plan` give them. Sign-in is
replaced by demo users, one per group: ana (author), bo (approver), vic (viewer), ada (admin),
switched with the "acting as" form at the top of every page. Exit 0 on Ctrl-C, 2 when the
port is taken.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
from pathlib import Path

from rung.commands.failure import CommandError

DEFAULT_PORT = 8400  # our choice: unassigned by IANA and unlikely to be in use on a laptop


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "console",
        help="serve the ops console locally, with a demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0: any free)",
    )
    parser.add_argument(
        "--user", default="ana", choices=("ana", "bo", "vic", "ada"), help="who you act as first"
    )
    parser.add_argument("--json", action="store_true", help="print the URL and users as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: the local world loads moto, which other commands do not need.
    from rung.console_local import (
        LOCAL_USERS,
        LocalConsole,
        demo_reports,
        local_app,
        seeded_world,
        world_services,
    )

    if not 0 <= args.port <= 65535:
        raise CommandError(f"--port: {args.port} is not a port number")
    _port_free(args.port)  # before the minute the demo takes, not after
    if not args.json:
        print("preparing the demo (the samples through the simulator)…", file=sys.stderr)
    with (
        tempfile.TemporaryDirectory(prefix="rung-console-") as out,
        seeded_world(out_dir=Path(out)) as world,
    ):
        app = local_app(world_services(world, reports=demo_reports(world, Path(out))), args.user)
        try:
            console = LocalConsole(app, args.port)
        except OSError as exc:
            raise CommandError(f"--port {args.port}: {exc.strerror}") from exc
        users = {name: sorted(g.value for g in user.groups) for name, user in LOCAL_USERS.items()}
        if args.json:
            print(json.dumps({"url": console.url, "users": users}), flush=True)
        else:
            print(
                f"Rung console: {console.url}  (acting as {args.user}; Ctrl-C to stop)", flush=True
            )
            for name, groups in users.items():
                print(f"  {name}: {', '.join(groups)}")
        try:
            console.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            console.server.server_close()
    return 0


def _port_free(port: int) -> None:
    from rung.console_local import HOST

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise CommandError(f"--port {port}: {exc.strerror} on {HOST}") from exc
