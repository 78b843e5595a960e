"""Fixtures shared by integration tests."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from moto.server import ThreadedMotoServer

from functions.core.approval import approve_lint_clean
from functions.core.lenders import load_lender
from functions.settings import PROJECT_ROOT
from rung.localworld import LocalWorld


@contextmanager
def approved_world(start: datetime) -> Iterator[LocalWorld]:
    """A local world at `start` whose shipped templates are approved for the demo lender."""
    with LocalWorld(start, stall_timeout=30) as local:
        approve_lint_clean(
            local.services.templates,
            PROJECT_ROOT / "templates" / "messages",
            load_lender(PROJECT_ROOT, "demo"),
            start,
        )
        yield local


@pytest.fixture
def moto_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's HTTP server on loopback, as an operator's `--endpoint-url` would reach it."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        yield url
    finally:
        # The server shares moto's in-process state: leave none behind for the next test.
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))
        server.stop()
