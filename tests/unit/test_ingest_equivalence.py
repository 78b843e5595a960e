"""The fast phone and email rules judge every row of a lender file as the reference rules do.

A generated file like the ingest benchmark's (unique US and CN numbers, E.164 and national
formats, emails, links, duplicates), with tricky rows mixed in, read twice: once as shipped,
once with the reference rules (tests/unit/reference_rules.py) in place of the fast ones. Every
row must get the same verdict: accepted with the same values, or rejected with the same
(field, reason) list. The same file's duplicates are those of the plain rule (the first
accepted row of an id claims it), and two workers reject the same rows for the same reasons.
"""

from __future__ import annotations

import io
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

import functions.core.lender_file as lender_file
from bench.ingest import lines
from functions.core.lender_file import FileReport, validate_lender_file
from functions.core.lenders import load_lender
from functions.core.parallel_validation import validate_in_parallel
from functions.settings import PROJECT_ROOT
from tests.unit import reference_rules as reference

ROWS = 20_000
# (phone, email) cells of rows that exercise each rule's edges.
TRICKY = [
    ("2.06555E+10", ""),
    ("+1 206 555 0134", "User.Name@Example.COM"),
    ("(206) 555-0134", "postmaster@example.com"),
    ("+11234567890", ""),
    ("+4402079460958", "a@bücher.example"),
    ("+390612345678", "b@xn--bcher-kva.example"),
    ("+80012345678", "c@例え.テスト"),
    ("+9999999999", "d@localhost"),
    ("+１２０６５５５０１３４", "cafe\u0301@example.com"),
    ("tel:+1-206-555-0134", '"quoted"@example.com'),
    ("206 555 0134 ext 5", "e@example..com"),
    ("+5491123456789", "用户@example.com"),
    ("13800138000", "f@[192.0.2.1]"),
    ("008613800138000", "g@example.invalid"),
    ("+", "h@" + "a" * 250 + ".com"),
    ("", ""),
    ("+86 138 0013 8000", "x" * 70 + "@example.com"),
]


def _file(encoding: str, bom: bytes) -> bytes:
    text = list(islice(lines(ROWS), ROWS + 1))
    for index, (phone, email) in enumerate(TRICKY * 3):
        text.append(f"T{index},Jane,{phone},{email},10.25,USD,2026-12-01,en-US,US,WA,98101,,,\n")
        text.append(f"U{index},王芳,{phone},{email},10.25,CNY,2026-12-01,zh-CN,CN,,100020,,,\n")
    return bom + "".join(text).encode(encoding)


def _verdicts(data: bytes) -> list[tuple[Any, ...]]:
    report = FileReport()
    lender = load_lender(PROJECT_ROOT, "demo")
    return [
        (
            result.row,
            result.account_id,
            result.errors,
            None if result.value is None else result.value.model_dump(),
        )
        for result in validate_lender_file(io.BytesIO(data), lender, report)
    ]


@pytest.mark.parametrize(
    ("encoding", "bom"), [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("gb18030", b"")]
)
def test_every_row_gets_the_reference_verdict(
    encoding: str, bom: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _file(encoding, bom)
    fast = _verdicts(data)
    monkeypatch.setattr(lender_file, "to_e164", reference.to_e164)
    monkeypatch.setattr(lender_file, "normalized_email", reference.normalized_email)
    slow = _verdicts(data)

    assert len(fast) == len(slow) == ROWS + 2 * 3 * len(TRICKY)
    assert sum(1 for row in fast if row[2]) > 3 * len(TRICKY)  # rejections were compared too
    for ours, theirs in zip(fast, slow, strict=True):
        assert ours == theirs


def test_duplicates_are_those_of_the_first_accepted_row_rule() -> None:
    data = _file("utf-8", b"")
    first: dict[str, int] = {}
    checked = 0
    for row, account_id, errors, _ in _verdicts(data):
        duplicate = [e for e in errors if e.reason.startswith("duplicate account_id")]
        if account_id in first and (duplicate or not errors):
            # A row whose only fault is its id: rejected as a duplicate of the first row.
            assert [e.reason for e in duplicate] == [
                f"duplicate account_id (first seen in row {first[account_id]})"
            ]
            checked += 1
        elif not errors:
            first[account_id] = row
        else:
            assert not duplicate  # a row rejected for its cells claims no id
    assert checked >= 3  # the generated file's duplicate ids (every 5,003rd row) were met


@pytest.mark.parametrize(
    ("encoding", "bom"), [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("gb18030", b"")]
)
def test_two_workers_reject_the_same_rows_for_the_same_reasons(
    encoding: str, bom: bytes, tmp_path: Path
) -> None:
    data = _file(encoding, bom)
    path = tmp_path / "accounts.csv"
    path.write_bytes(data)
    lender = load_lender(PROJECT_ROOT, "demo")
    one, two = FileReport(), FileReport()
    sequential = [
        (r.row, r.account_id, r.errors)
        for r in validate_lender_file(io.BytesIO(data), lender, one)
        if not r.accepted
    ]
    parallel = [
        (r.row, r.account_id, r.errors)
        for r in validate_in_parallel(path, lender, two, workers=2, span_bytes=64 * 1024)
    ]
    assert parallel == sequential
    assert two == one
    assert one.rejected > 3 * len(TRICKY)
