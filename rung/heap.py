"""Garbage collection for runs that hold large heaps: the fast engine's, a chunk's part and
the merge of a preview."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Cyclic garbage collection thresholds during a run (our choice, measured in bench/preview.py):
# a run allocates millions of short-lived acyclic objects (models, records, events), and the
# default young-generation threshold (700) made collection cost about a tenth of the CPU time.
GC_THRESHOLDS = (50_000, 50, 1_000)


@contextmanager
def large_heap() -> Iterator[None]:
    """Collect garbage rarely, and never scan what existed before (imports, config). The
    oldest generation is then almost never collected: who makes reference cycles inside
    collects them (rung.chunks, after each chunk)."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
