"""pytest plugin for mutation runs: no cache of other code answers for the code under test,
and the cheapest test files run first.

mutmut records which tests reach each function in one run of the clean tests, then forks one
worker per mutant from that process. A `functools` cache (a zone's day intervals, a
borrower's candidate zones, a compiled lint pattern) breaks both steps: in the recording run
only the first test to fill a cache is seen reaching the cached function, and a forked worker
answers from the cache that the unmutated code filled. So every cache is emptied before each
test of the recording run, and once before a mutant's tests (a mutant fills its own caches).
"""

from __future__ import annotations

import functools
import gc
import os

import pytest


def _clear_caches() -> None:
    for found in gc.get_objects():
        if isinstance(found, functools._lru_cache_wrapper):
            found.cache_clear()


def _recording() -> bool:
    return os.environ.get("MUTANT_UNDER_TEST") == "stats"


def pytest_sessionstart(session: pytest.Session) -> None:
    _clear_caches()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if _recording():
        _clear_caches()


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Run the test files in the order the runner lists them (cheapest first), so that a
    killed mutant is usually found by a fast test; mutmut passes the tests in no set order."""
    order = [name for name in os.environ.get("RUNG_MUTATION_TEST_ORDER", "").split(",") if name]
    if order:
        rank = {name: index for index, name in enumerate(order)}
        items.sort(key=lambda item: rank.get(item.path.stem, len(order)))
