"""pytest plugin for mutation runs: empty every functools cache before a mutant's tests.

mutmut forks each mutant's worker from the process that ran the clean tests. A cache that the
unmutated code filled there (a zone's day intervals, a borrower's candidate zones, a compiled
lint pattern) would answer for the mutant and hide it. Clearing them all at session start
costs a fraction of a second and needs no knowledge of which functions cache.
"""

from __future__ import annotations

import functools
import gc

import pytest


def pytest_sessionstart(session: pytest.Session) -> None:
    for found in gc.get_objects():
        if isinstance(found, functools._lru_cache_wrapper):
            found.cache_clear()
