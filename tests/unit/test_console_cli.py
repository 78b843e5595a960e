"""`rung console` refuses unusable options at once, before preparing the demo."""

from __future__ import annotations

import json
import socket

import pytest

from rung.cli import main


def test_a_port_in_use_is_named_before_the_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["console", "--port", str(port), "--json"]) == 2
    error = json.loads(capsys.readouterr().out)
    assert f"--port {port}" in json.dumps(error) and "in use" in json.dumps(error)


def test_an_impossible_port_and_an_unknown_user_are_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["console", "--port", "70000"]) == 2
    assert "--port: 70000 is not a port number" in capsys.readouterr().err
    assert main(["console", "--user", "mallory"]) == 2
    assert "invalid choice: 'mallory'" in capsys.readouterr().err
