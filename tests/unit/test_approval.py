"""Four-eyes approval over the TemplateStore port (in-memory adapter)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from functions.adapters.template_store import MemoryTemplateStore
from functions.core.approval import (
    SIMULATOR_APPROVER,
    SIMULATOR_AUTHOR,
    AlreadyApprovedError,
    LintFailedError,
    SelfApprovalError,
    UnknownVersionError,
    approve,
    approve_lint_clean,
    push,
)
from functions.core.lenders import load_lender
from functions.core.lint import load_lint_rules
from functions.core.models import Channel, TemplateStatus, TemplateVersion
from functions.core.templates import TemplateError, discover
from functions.settings import PROJECT_ROOT

DEMO = load_lender(PROJECT_ROOT, "demo")
SHIPPED_ROOT = PROJECT_ROOT / "templates" / "messages"
T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
KEY = ("reminder_day1", Channel.SMS, "en-US")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A private copy of the day-1 template folder that a test may edit."""
    shutil.copytree(SHIPPED_ROOT / "reminder_day1", tmp_path / "reminder_day1")
    return tmp_path


def sms_file(root: Path) -> Path:
    return root / "reminder_day1" / "sms.en-US.txt"


def edit(root: Path, old: str, new: str) -> None:
    path = sms_file(root)
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def push_sms(store: MemoryTemplateStore, root: Path, author: str = "olivia", at: datetime = T0):
    [result] = push(store, discover(sms_file(root)), author=author, at=at)
    return result


def test_push_stores_a_draft_once_per_content(root: Path) -> None:
    # Given an empty store
    store = MemoryTemplateStore()
    # When the same file is pushed twice, then pushed again after an edit
    first, again = push_sms(store, root), push_sms(store, root, author="someone-else")
    edit(root, "a reminder", "a friendly reminder")
    edited = push_sms(store, root)
    # Then the same content is one version, the edit is a second; both DRAFT by their author
    assert (first.created, again.created, edited.created) == (True, False, True)
    assert first.version == again.version != edited.version
    stored = store.get(*KEY, first.version)
    assert stored is not None and (stored.status, stored.author) == (TemplateStatus.DRAFT, "olivia")


def test_push_refuses_a_malformed_file_before_storing_anything(tmp_path: Path) -> None:
    (tmp_path / "reminder_x").mkdir()
    (tmp_path / "reminder_x" / "sms.en-US.txt").write_text("no front matter", encoding="utf-8")
    store = MemoryTemplateStore()
    with pytest.raises(TemplateError, match=r"reminder_x/sms\.en-US\.txt"):
        push(store, discover(tmp_path), author="olivia", at=T0)
    assert store.versions() == []


def test_approve_records_who_when_and_the_lint_result(root: Path) -> None:
    # Given a lint-clean draft by olivia
    store = MemoryTemplateStore()
    version = push_sms(store, root).version
    # When priya approves it
    approved = approve(store, *KEY, version, by="priya", at=T0 + timedelta(hours=1), lender=DEMO)
    # Then the approval is bound to that hash with approver, instant and lint result
    assert (approved.status, approved.approver, approved.approved_at) == (
        TemplateStatus.APPROVED,
        "priya",
        T0 + timedelta(hours=1),
    )
    assert approved.lint["rules_version"] == load_lint_rules().version
    assert approved.lint["ok"] is True and approved.lint["profile"] == "US"
    assert store.newest_approved(*KEY) == approved


@pytest.mark.parametrize("approver", ["olivia", "Olivia", "  olivia "])
def test_approve_refuses_self_approval(root: Path, approver: str) -> None:
    # Given olivia's draft / When olivia (however spelled) approves it / Then it is refused
    store = MemoryTemplateStore()
    version = push_sms(store, root).version
    with pytest.raises(SelfApprovalError, match="someone else"):
        approve(store, *KEY, version, by=approver, at=T0, lender=DEMO)
    assert store.newest_approved(*KEY) is None


def test_approve_refuses_a_version_with_lint_errors(root: Path) -> None:
    # Given a draft that threatens arrest
    edit(root, "for a payment plan.", "or you will be arrested.")
    store = MemoryTemplateStore()
    version = push_sms(store, root).version
    # When a second person approves it / Then lint refuses, naming the rule, and nothing changes
    with pytest.raises(LintFailedError, match=r"forbidden\.threat") as caught:
        approve(store, *KEY, version, by="priya", at=T0, lender=DEMO)
    assert caught.value.result.errors[0].rule == "forbidden.threat"
    stored = store.get(*KEY, version)
    assert stored is not None and stored.status is TemplateStatus.DRAFT


def test_approve_unknown_version_is_a_typed_error() -> None:
    with pytest.raises(UnknownVersionError, match=r"reminder_day1/sms\.en-US\.txt@abc123"):
        approve(MemoryTemplateStore(), *KEY, "abc123", by="priya", at=T0, lender=DEMO)


def test_approve_twice_is_refused(root: Path) -> None:
    store = MemoryTemplateStore()
    version = push_sms(store, root).version
    approve(store, *KEY, version, by="priya", at=T0, lender=DEMO)
    with pytest.raises(AlreadyApprovedError, match="priya"):
        approve(store, *KEY, version, by="sam", at=T0, lender=DEMO)


def test_editing_an_approved_template_keeps_the_old_words_until_reapproved(root: Path) -> None:
    # Given an approved version
    store = MemoryTemplateStore()
    old = push_sms(store, root).version
    approve(store, *KEY, old, by="priya", at=T0, lender=DEMO)
    # When one word is edited and pushed
    edit(root, "a reminder", "a quick reminder")
    new = push_sms(store, root, at=T0 + timedelta(days=1)).version
    # Then the previously approved version stays in use until the edit is approved
    in_use = store.newest_approved(*KEY)
    assert in_use is not None and in_use.version == old
    approve(store, *KEY, new, by="priya", at=T0 + timedelta(days=2), lender=DEMO)
    in_use = store.newest_approved(*KEY)
    assert in_use is not None and in_use.version == new


def test_approve_detects_a_stored_source_that_no_longer_matches_its_hash() -> None:
    # Given a store holding words under a version hash they do not have (tampering)
    store = MemoryTemplateStore()
    source = (SHIPPED_ROOT / "reminder_day1" / "sms.en-US.txt").read_text(encoding="utf-8")
    store.put_draft(
        TemplateVersion(
            template_id=KEY[0],
            channel=KEY[1],
            locale=KEY[2],
            version="000000000000",
            source=source,
            author="olivia",
        )
    )
    # Then approval refuses: an approval is bound to exact content
    with pytest.raises(TemplateError, match="hashes to"):
        approve(store, *KEY, "000000000000", by="priya", at=T0, lender=DEMO)


def test_approve_lint_clean_approves_shipped_templates_and_leaves_failures_draft(
    tmp_path: Path,
) -> None:
    # Given the shipped templates plus one that insults the borrower
    root = tmp_path / "messages"
    shutil.copytree(SHIPPED_ROOT, root)
    bad = root / "reminder_day7" / "sms.en-US.txt"
    bad.write_text(
        bad.read_text(encoding="utf-8").replace("Please pay", "Pay up, deadbeat"), encoding="utf-8"
    )
    store = MemoryTemplateStore()
    # When the simulator's policy runs (twice: it must be idempotent)
    outcomes = approve_lint_clean(store, root, DEMO, T0)
    again = approve_lint_clean(store, root, DEMO, T0 + timedelta(hours=1))
    # Then every clean file is approved by simulator-lint, the insulting one stays DRAFT
    refused = [o for o in outcomes if not o.approved]
    assert [(o.template_id, o.channel, o.locale) for o in refused] == [
        ("reminder_day7", Channel.SMS, "en-US")
    ]
    assert sum(o.approved for o in outcomes) == 38
    assert [o.approved for o in again] == [o.approved for o in outcomes]
    day1 = store.newest_approved(*KEY)
    assert day1 is not None and (day1.author, day1.approver, day1.approved_at) == (
        SIMULATOR_AUTHOR,
        SIMULATOR_APPROVER,
        T0,
    )
    assert store.newest_approved("reminder_day7", Channel.SMS, "en-US") is None
