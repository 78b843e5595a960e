"""How a command ends on an error the user can fix: one line, never a traceback.

A command raises `CommandError`; `rung.cli.main` prints it — `rung COMMAND: message` on stderr,
or, when the command line asked for `--json`, one JSON object on stdout
(`{"error": message, "command": "rung COMMAND", "exit_code": N}`) — and exits with its code.
"""

from __future__ import annotations

import json
from typing import TextIO

EXIT_USAGE = 2


class CommandError(Exception):
    """Bad input or an unusable file, resource or option; `exit_code` is what the shell sees.
    `command` ("rung simulate") is filled in by `rung.cli.main` when not given."""

    def __init__(
        self, message: str, *, command: str = "", exit_code: int = EXIT_USAGE, usage: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.command = command
        self.exit_code = exit_code
        self.usage = usage

    def write(self, *, as_json: bool, stdout: TextIO, stderr: TextIO) -> None:
        if as_json:
            answer = {"error": self.message, "command": self.command, "exit_code": self.exit_code}
            print(json.dumps(answer, ensure_ascii=False), file=stdout)
            return
        if self.usage:
            stderr.write(self.usage)
        print(f"{self.command}: {self.message}", file=stderr)
