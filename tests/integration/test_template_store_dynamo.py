"""TemplateStore contract: the same tests against DynamoDB (moto) and the in-memory store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from functions.adapters.template_store import DynamoTemplateStore, MemoryTemplateStore
from functions.core.approval import AlreadyApprovedError, UnknownVersionError
from functions.core.models import Channel, TemplateStatus, TemplateVersion
from functions.core.templates import content_hash

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
LINT = {
    "rules_version": "v1",
    "profile": "US",
    "ok": True,
    "findings": [{"rule": "segments", "severity": "warning", "message": "m", "file": None}],
}


@pytest.fixture(params=["memory", "dynamo"])
def store(request: pytest.FixtureRequest) -> Iterator[object]:
    if request.param == "memory":
        yield MemoryTemplateStore()
        return
    with mock_aws():
        dynamo = DynamoTemplateStore(
            "rung-templates", client=boto3.client("dynamodb", region_name="us-east-1")
        )
        dynamo.create_table()
        yield dynamo


def draft(
    text: str, locale: str = "en-US", template_id: str = "reminder_day1", at: datetime = T0
) -> TemplateVersion:
    source = f"---\npurpose: t\n---\n{text}\n"
    return TemplateVersion(
        template_id=template_id,
        channel=Channel.SMS,
        locale=locale,
        version=content_hash(source),
        source=source,
        author="olivia",
        created_at=at,
    )


def test_template_store_put_draft_is_once_per_hash(store) -> None:
    # Given a draft / When it is put twice / Then the second put is refused and nothing changes
    version = draft("Hello")
    assert store.put_draft(version) is True
    assert store.put_draft(version.model_copy(update={"author": "mallory"})) is False
    assert store.get("reminder_day1", Channel.SMS, "en-US", version.version) == version


def test_template_store_approve_records_approval_and_lint(store) -> None:
    version = draft("Hello")
    store.put_draft(version)
    approved = store.approve(
        "reminder_day1",
        Channel.SMS,
        "en-US",
        version.version,
        by="priya",
        at=T0 + timedelta(hours=1),
        lint=LINT,
    )
    # Then the returned and the stored version agree, with approver, instant and lint
    stored = store.get("reminder_day1", Channel.SMS, "en-US", version.version)
    assert approved == stored
    assert (stored.status, stored.approver, stored.approved_at, stored.lint) == (
        TemplateStatus.APPROVED,
        "priya",
        T0 + timedelta(hours=1),
        LINT,
    )
    assert stored.source == version.source and stored.author == "olivia"


def test_template_store_approve_unknown_or_twice_is_refused(store) -> None:
    version = draft("Hello")
    with pytest.raises(UnknownVersionError):
        store.approve("reminder_day1", Channel.SMS, "en-US", version.version, by="p", at=T0)
    store.put_draft(version)
    store.approve("reminder_day1", Channel.SMS, "en-US", version.version, by="priya", at=T0)
    with pytest.raises(AlreadyApprovedError):
        store.approve("reminder_day1", Channel.SMS, "en-US", version.version, by="sam", at=T0)
    stored = store.get("reminder_day1", Channel.SMS, "en-US", version.version)
    assert stored.approver == "priya"


def test_template_store_newest_approved_ignores_drafts_and_other_keys(store) -> None:
    # Given v1 approved, v2 approved later, v3 a newer draft, and a zh-CN approval
    v1, v2, v3 = draft("one"), draft("two"), draft("three", at=T0 + timedelta(days=3))
    zh = draft("四", locale="zh-CN")
    for version in (v1, v2, v3, zh):
        store.put_draft(version)
    store.approve("reminder_day1", Channel.SMS, "en-US", v2.version, by="p", at=T0 + timedelta(1))
    store.approve("reminder_day1", Channel.SMS, "en-US", v1.version, by="p", at=T0 + timedelta(2))
    store.approve("reminder_day1", Channel.SMS, "zh-CN", zh.version, by="p", at=T0 + timedelta(5))
    # Then the most recently approved en-US version is in use; the draft is not
    newest = store.newest_approved("reminder_day1", Channel.SMS, "en-US")
    assert newest is not None and newest.version == v1.version
    assert store.newest_approved("reminder_day1", Channel.EMAIL, "en-US") is None


def test_template_store_versions_lists_all_or_one_template(store) -> None:
    store.put_draft(draft("a"))
    store.put_draft(draft("b", at=T0 + timedelta(hours=1)))
    store.put_draft(draft("c", template_id="reminder_day7"))
    assert [v.source.split("\n")[3] for v in store.versions("reminder_day1")] == ["a", "b"]
    assert {v.template_id for v in store.versions()} == {"reminder_day1", "reminder_day7"}
