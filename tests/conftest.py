"""Suite-wide: the long tests start first, so that two workers end together.

pytest-xdist hands tests out in collection order. A minute-long test collected last would
run alone at the end while the other worker sits idle; collected first, it runs while the
other worker takes the short ones.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: else as found
