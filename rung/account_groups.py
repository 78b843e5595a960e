"""Accounts that must be simulated together: those linked by an account id, a phone number or
an email address, directly or through other accounts.

Opt-outs, contact caps and statuses act per address, and intake finds duplicate ids within a
file, so two rows that share any of these must run in one chunk (rung.chunks). A disjoint-set
(union by size, path halving) over the rows' keys finds the groups in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable


class AccountGroups:
    """Rows (by their line in the file) joined by the keys they hold."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}
        self._rows: dict[str, int] = {}  # root → rows in its group
        self._row_key: dict[int, str] = {}  # line → one key of its row
        self._chunk_of_root: dict[str, int] = {}

    def add(self, line: int, keys: Iterable[str]) -> None:
        """Row `line` holds `keys` (e.g. `id:A-1`, `sms:+1206…`, `email:jane@…`)."""
        keys = [key for key in keys if key]
        first = keys[0] if keys else f"line:{line}"
        self._row_key[line] = first
        for key in keys[1:]:
            self._union(first, key)
        root = self._find(first)
        self._rows[root] = self._rows.get(root, 0) + 1

    def _find(self, key: str) -> str:
        parent = self._parent.setdefault(key, key)
        if parent == key:
            return key
        while parent != key:
            grand = self._parent[parent]
            self._parent[key] = grand
            key, parent = parent, grand
        return key

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra == rb:
            return
        if self._rows.get(ra, 0) < self._rows.get(rb, 0):
            ra, rb = rb, ra
        self._parent[rb] = ra
        self._rows[ra] = self._rows.get(ra, 0) + self._rows.pop(rb, 0)

    def chunks(self, size: int) -> dict[int, int]:
        """Line → chunk number: groups packed whole, in order of their first row, into chunks
        of about `size` rows (a group larger than `size` is one chunk of its own)."""
        chunk_of_root = self._chunk_of_root
        chunk_of_root.clear()
        filled: dict[int, int] = {}
        current = 0
        assigned: dict[int, int] = {}
        for line, key in self._row_key.items():
            root = self._find(key)
            chunk = chunk_of_root.get(root)
            if chunk is None:
                group = self._rows[root]
                if filled.get(current, 0) and filled[current] + group > size:
                    current += 1
                chunk = chunk_of_root[root] = current
                filled[current] = filled.get(current, 0) + group
            assigned[line] = chunk
        return assigned

    def chunk_of(self, key: str) -> int | None:
        """The chunk holding the rows that hold `key` (after `chunks`), or None."""
        return self._chunk_of_root.get(self._find(key)) if key in self._parent else None
