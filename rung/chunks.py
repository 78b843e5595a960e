"""A large preview run as chunks of accounts that share nothing, on every core.

Accounts act on each other only through what they share — an id, a phone number, an email
address (opt-outs, contact caps and statuses act per address) — and through the providers'
rates when the run paces sends. A run without rates (`rung simulate`'s default for a lender
without `send_rates`) is therefore split: `AccountGroups` keeps accounts linked by any shared
key in one chunk, each chunk's rows (and the replies and payments that concern them) go to a
file of its own, and a pool of worker processes runs the fast engine on each, writing the
chunk's outputs to disk as a `Part` (rung.run_outputs). `write_run` merges them into the very
files one run of the whole file gives. A worker holds one chunk's state at a time, so memory
is bounded by the chunk size, not the file.

A run with rates is one chunk: every send takes a slot of the same per-second budget, so
accounts are coupled through time and a split would change which second a message takes.
"""

from __future__ import annotations

import csv
import gc
import multiprocessing
import os
import resource
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from functions.core.csv_stream import CsvText
from functions.core.lender_file import FileReport, LenderRow, RowResult, validate_lender_file
from functions.core.models import Channel, UploadRecord
from functions.core.profiles import load_profiles
from functions.settings import PROJECT_ROOT
from rung.account_groups import AccountGroups
from rung.engine import ProgressListener, ScriptedReply, SimulationInput
from rung.heap import large_heap
from rung.run_outputs import Part, RunContext, write_part

# Accounts per chunk (our choice): a worker peaked at 0.9 GB on one chunk of 20,000 accounts
# and at 0.8 GB over a million accounts in chunks of 10,000 (the engine's state, then the
# chunk's outputs; docs/performance.md, "Preview of 1,000,000 accounts"); 10,000 keeps two
# workers and the main process under 3 GB, and a chunk large against its fixed cost (under a
# second: the templates are approved once per worker).
CHUNK_ACCOUNTS = 10_000


def row_keys(result: RowResult[LenderRow]) -> list[str]:
    """What links a row to others: its account id and, once accepted, its addresses."""
    keys = [f"id:{result.account_id}"] if result.account_id else []
    row = result.value
    if row is not None:
        for channel, address in (
            (Channel.SMS, row.phone),
            (Channel.EMAIL, row.email),
            (Channel.PUSH, getattr(row, "push_endpoint", None)),
        ):
            if address:
                keys.append(address_key(channel, address))
    return keys


def address_key(channel: Channel, address: str) -> str:
    return f"{channel.value}:{address.strip().lower()}"


def worker_count() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class WorkerUsage:
    """A worker process's own CPU seconds and peak resident memory (KiB) so far."""

    pid: int
    cpu: float
    peak_kib: int

    @classmethod
    def now(cls) -> WorkerUsage:
        own = resource.getrusage(resource.RUSAGE_SELF)
        status = Path("/proc/self/status").read_text(encoding="ascii").splitlines()
        peak = next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
        return cls(os.getpid(), own.ru_utime + own.ru_stime, peak)


@dataclass(frozen=True)
class ChunkJob:
    folder: Path  # the chunk's own folder: its accounts file, payments file and part
    sim: SimulationInput
    context: RunContext
    plaintext: Path  # the accounts file readable (the same file unless it is encrypted)


@dataclass(frozen=True)
class ChunkDone:
    part: Part
    upload: UploadRecord | None  # the chunk's share of the accounts file, as intake took it
    usage: WorkerUsage


def split_file(
    source: Path, name: str, assignment: dict[int, int], chunks: int, folder: Path
) -> list[Path] | None:
    """Write each chunk's rows (header first, file order) to `folder/chunk-N/name`; None
    when a row holds bytes that are not text (rewriting would change what intake reads)."""
    paths = [folder / f"chunk-{index:04d}" / name for index in range(chunks)]
    handles = []
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            handles.append(path.open("w", encoding="utf-8", newline=""))
        writers = [csv.writer(handle) for handle in handles]
        with source.open("rb") as stream:
            text = CsvText(stream)
            for writer in writers:
                writer.writerow(text.header)
            for record in text.records():
                chunk = assignment.get(record.line)
                if chunk is None:
                    continue  # a blank line: intake skips it
                if record.undecodable:
                    return None
                writers[chunk].writerow(record.cells)
    finally:
        for handle in handles:
            handle.close()
    return paths


def split_payments(source: Path, groups: AccountGroups, chunks: int, folder: Path) -> list[Path]:
    """Each chunk's payments rows (a row naming no account of the file goes to chunk 0)."""
    with source.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        column = header.index("account_id") if "account_id" in header else None
        rows: list[list[list[str]]] = [[] for _ in range(chunks)]
        for row in reader:
            account_id = row[column].strip() if column is not None and column < len(row) else ""
            chunk = groups.chunk_of(f"id:{account_id}") or 0
            rows[chunk].append(row)
    paths = []
    for index, chunk_rows in enumerate(rows):
        path = folder / f"chunk-{index:04d}" / source.name
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(chunk_rows)
        paths.append(path)
    return paths


def split_replies(
    replies: Sequence[ScriptedReply], groups: AccountGroups, chunks: int
) -> list[tuple[ScriptedReply, ...]]:
    """Each reply goes to the chunk holding its sender's address (none: chunk 0)."""
    shares: list[list[ScriptedReply]] = [[] for _ in range(chunks)]
    for reply in replies:
        chunk = groups.chunk_of(address_key(reply.channel, reply.sender)) or 0
        shares[chunk].append(reply)
    return [tuple(share) for share in shares]


def chunk_jobs(
    sim: SimulationInput,
    readable: Path,
    groups: AccountGroups,
    context: RunContext,
    folder: Path,
    size: int = CHUNK_ACCOUNTS,
) -> list[ChunkJob] | None:
    """The run as chunks of about `size` accounts, or None when the file cannot be split
    (a row that is not text)."""
    assignment = groups.chunks(size)
    count = max(assignment.values(), default=0) + 1
    files = split_file(readable, sim.accounts_file.name, assignment, count, folder)
    if files is None:
        return None
    payments: list[Path | None] = [None] * count
    if sim.payments_file is not None:
        payments = list(split_payments(sim.payments_file, groups, count, folder))
    replies = split_replies(sim.replies, groups, count)
    return [
        ChunkJob(
            path.parent,
            replace(sim, accounts_file=path, payments_file=payments[i], replies=replies[i]),
            context,
            path,
        )
        for i, path in enumerate(files)
    ]


def run_chunks(
    jobs: Sequence[ChunkJob], workers: int, progress: ProgressListener | None = None
) -> Iterator[ChunkDone]:
    """Run the chunks on `workers` processes; yields each as it finishes, in chunk order.
    `progress` hears the virtual clock of a run that is one chunk."""
    if workers <= 1 or len(jobs) == 1:
        for job in jobs:
            yield run_chunk(job, progress if len(jobs) == 1 else None)
        return
    # A fork server, never fork() of this process (it may run a progress thread).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    with context.Pool(min(workers, len(jobs))) as pool:
        yield from pool.imap(run_chunk, jobs)


def run_chunk(job: ChunkJob, progress: ProgressListener | None = None) -> ChunkDone:
    """One chunk, start to end, in this process: run it, write its part, forget its state."""
    from rung.commands.simulate import blackout_day_check, quiet_hours_check
    from rung.engine_fast import FastEngine, approved, simulation

    lender = job.context.lender
    assert lender is not None  # a chunked run writes events
    with simulation():
        # A worker approves the templates once for all its chunks; a run in this process
        # approves its own (nothing cached outlives it here).
        in_worker = multiprocessing.parent_process() is not None
        templates = approved(PROJECT_ROOT, lender.lender_id, job.sim.start) if in_worker else None
        engine = FastEngine(job.sim, templates=templates)
        result = engine.run(progress)
    # The run's records and accounts are held to the end: collected as rarely as in the run.
    with large_heap():
        with job.plaintext.open("rb") as stream:
            entered = [
                row.value
                for row in validate_lender_file(stream, lender, FileReport())
                if row.accepted and row.value is not None
            ]
        book = load_profiles(PROJECT_ROOT).for_lender(lender)
        part = write_part(
            job.folder / "part",
            result,
            job.context,
            entered=entered,
            in_quiet_hours=quiet_hours_check(book, lender),
            on_blackout_day=blackout_day_check(book, lender),
        )
    upload = engine.accounts_upload()
    # The run's state holds reference cycles (services, handlers, their stores): collected
    # here, once a chunk, or a worker's chunks pile up until the next full collection.
    del engine, result
    gc.collect()
    return ChunkDone(part, upload, WorkerUsage.now())
