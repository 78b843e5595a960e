"""`rung templates …`: lint, preview, push, approve, list (store commands on moto)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from functions.adapters.template_store import DynamoTemplateStore
from functions.settings import PROJECT_ROOT
from rung.cli import main

SHIPPED_ROOT = PROJECT_ROOT / "templates" / "messages"
STORE_ARGS = ["--table", "rung-templates", "--region", "us-east-1"]


def rung(argv: list[str]) -> int:
    return main(argv)


@pytest.fixture
def table() -> Iterator[None]:
    with mock_aws():
        DynamoTemplateStore(
            "rung-templates", client=boto3.client("dynamodb", region_name="us-east-1")
        ).create_table()
        yield


def test_templates_lint_shipped_defaults_pass(capsys: pytest.CaptureFixture[str]) -> None:
    # When the shipped templates are linted for the demo lender / Then all pass
    assert rung(["templates", "lint"]) == 0
    assert "39 files, 0 errors, 0 warnings" in capsys.readouterr().out


def test_templates_lint_names_file_and_rule_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a Chinese SMS that lost its 回复TD退订 and threatens to call the police
    folder = tmp_path / "reminder_day7"
    folder.mkdir()
    source = (SHIPPED_ROOT / "reminder_day7" / "sms.zh-CN.txt").read_text(encoding="utf-8")
    (folder / "sms.zh-CN.txt").write_text(
        source.replace("{{ optout_instruction }}", "否则通知警察。"), encoding="utf-8"
    )
    # When linted (text and JSON) / Then exit 1, naming the file and each rule
    assert rung(["templates", "lint", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL reminder_day7/sms.zh-CN.txt@" in out
    assert "error: optout:" in out and "error: forbidden.threat:" in out
    assert rung(["templates", "lint", str(tmp_path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["errors"] == 2 and report["files"][0]["file"] == "reminder_day7/sms.zh-CN.txt"
    assert {f["rule"] for f in report["files"][0]["findings"]} == {"optout", "forbidden.threat"}


def test_templates_lint_impersonation_fails_even_with_legal_action_intended(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the final Spanish email, declared a lawful lawsuit notice, that also poses as the
    # court behind an HTML entity ("&#106;" is "j") and threatens seizure in an inflection
    folder = tmp_path / "final_notice_day30"
    folder.mkdir()
    source = (SHIPPED_ROOT / "final_notice_day30" / "email.es-US.html").read_text(encoding="utf-8")
    source = source.replace("legal_action_intended: false", "legal_action_intended: true")
    source = source.replace(
        "<p>{{ greeting }}</p>",
        "<p>{{ greeting }}</p><p>Mensaje de parte del &#106;uzgado: embargaremos su salario.</p>",
    )
    (folder / "email.es-US.html").write_text(source, encoding="utf-8")
    # When linted / Then exit 1 with both rules, whatever the flag says
    assert rung(["templates", "lint", str(tmp_path), "--json"]) == 1
    findings = json.loads(capsys.readouterr().out)["files"][0]["findings"]
    assert {f["rule"] for f in findings} == {"forbidden.impersonation", "forbidden.threat"}


def test_templates_lint_unusable_path_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert rung(["templates", "lint", "/nonexistent/templates"]) == 2
    assert "no such template file or folder" in capsys.readouterr().err


def test_templates_preview_shows_encoding_segments_and_cost(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # When the Chinese day-1 SMS is previewed with the built-in sample account
    assert (
        rung(
            [
                "templates",
                "preview",
                "reminder_day1",
                "--channel",
                "sms",
                "--locale",
                "zh-CN",
                "--json",
            ]
        )
        == 0
    )
    preview = json.loads(capsys.readouterr().out)
    # Then the text, its UCS-2 encoding, two segments and their estimated price are shown
    assert preview["text"].startswith("【Demo Finance】小明，您好：")
    assert preview["text"].endswith("回复TD退订")
    assert (preview["encoding"], preview["segments"]) == ("UCS-2", 2)
    assert preview["estimated_cost"] == {"currency": "USD", "amount": "0.01162"}


def test_templates_preview_with_a_given_account(capsys: pytest.CaptureFixture[str]) -> None:
    account = json.dumps({"first_name": None, "amount_due": "80", "currency": "USD"})
    assert (
        rung(
            [
                "templates",
                "preview",
                "reminder_day3",
                "--channel",
                "email",
                "--locale",
                "en-US",
                "--account",
                account,
                "--at",
                "2026-09-20T12:00:00Z",
                "--json",
            ]
        )
        == 0
    )
    preview = json.loads(capsys.readouterr().out)
    assert preview["subject"] == "Reminder: your Demo Finance payment of $80.00 is past due"
    assert preview["text"].startswith("Hello,\n")
    assert preview["html"].startswith("<!DOCTYPE html>") and preview["segments"] == 0


def test_templates_preview_bad_account_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        rung(
            [
                "templates",
                "preview",
                "reminder_day1",
                "--channel",
                "sms",
                "--locale",
                "en-US",
                "--account",
                '{"amount_due": "lots"}',
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "--account" in err and "amount_due" in err


def test_templates_push_approve_list_four_eyes(
    table: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given olivia pushes the day-1 templates
    root = tmp_path / "messages"
    shutil.copytree(SHIPPED_ROOT / "reminder_day1", root / "reminder_day1")
    assert rung(["templates", "push", str(root), "--author", "olivia", "--json", *STORE_ARGS]) == 0
    pushed = {(p["channel"], p["locale"]): p for p in json.loads(capsys.readouterr().out)}
    assert len(pushed) == 6 and all(p["created"] for p in pushed.values())
    ref = f"reminder_day1@{pushed[('sms', 'en-US')]['version']}"
    approve = ["templates", "approve", ref, "--channel", "sms", "--locale", "en-US", *STORE_ARGS]
    # When olivia tries to approve her own version / Then it is refused (exit 1)
    assert rung([*approve, "--by", "olivia"]) == 1
    assert "someone else must approve" in capsys.readouterr().err
    # When priya approves it / Then it is in use
    assert rung([*approve, "--by", "priya", "--json"]) == 0
    approved = json.loads(capsys.readouterr().out)
    assert (approved["status"], approved["approver"]) == ("APPROVED", "priya")
    assert approved["lint"]["ok"] is True
    # When olivia edits and pushes again
    sms = root / "reminder_day1" / "sms.en-US.txt"
    sms.write_text(
        sms.read_text(encoding="utf-8").replace("a reminder", "a kind reminder"), encoding="utf-8"
    )
    assert rung(["templates", "push", str(root), "--author", "olivia", *STORE_ARGS]) == 0
    assert "1 new version(s) of 6 file(s)" in capsys.readouterr().out
    # Then list shows the new DRAFT, and the approved version is still the one in use
    assert rung(["templates", "list", "reminder_day1", "--json", *STORE_ARGS]) == 0
    rows = [r for r in json.loads(capsys.readouterr().out) if r["file"].endswith("sms.en-US.txt")]
    assert [(r["status"], r["in_use"]) for r in rows] in (
        [("APPROVED", True), ("DRAFT", False)],
        [("DRAFT", False), ("APPROVED", True)],
    )


def test_templates_approve_rejects_a_malformed_reference(
    table: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        rung(
            [
                "templates",
                "approve",
                "reminder_day1",
                "--channel",
                "sms",
                "--locale",
                "en-US",
                "--by",
                "priya",
                *STORE_ARGS,
            ]
        )
        == 2
    )
    assert "TEMPLATE@VERSION" in capsys.readouterr().err


def test_templates_create_table_only_for_local_endpoints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert rung(["templates", "list", "--create-table", *STORE_ARGS]) == 2
    assert "local endpoints" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("template", "locale", "said"),
    [
        ("reminder_day99", "en-US", "no template reminder_day99 under"),
        ("reminder_day1", "fr-FR", "template reminder_day1 has no sms text in fr-FR (it has: "),
    ],
)
def test_templates_preview_of_an_unknown_template_or_locale_names_what_exists(
    template: str, locale: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = rung(["templates", "preview", template, "--channel", "sms", "--locale", locale])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"rung templates preview: {said}")
    assert "reminder_day1" in err and "Traceback" not in err


@pytest.mark.parametrize("where", ["empty", "parent"])
def test_templates_lint_of_a_folder_without_templates_fails(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an empty folder, or the folder above the templates root (one level too high)
    folder = tmp_path if where == "empty" else SHIPPED_ROOT.parent
    # When linted / Then it is not a clean result but a mistake, said as one
    assert rung(["templates", "lint", str(folder)]) == 2
    assert "no template files here" in capsys.readouterr().err


@pytest.mark.parametrize("action", ["lint", "preview", "push", "approve", "list"])
def test_every_templates_action_explains_itself(
    action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        rung(["templates", action, "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    # The usage line, then a paragraph saying what the action does, before the arguments
    description = out.split("\n\n")[1]
    assert not description.startswith(("positional arguments", "options")), out
    assert len(description.split()) >= 12, out


def test_templates_push_refuses_a_version_that_fails_lint(
    table: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a Chinese SMS that lost its opt-out wording beside a clean one
    folder = tmp_path / "reminder_day7"
    folder.mkdir()
    source = (SHIPPED_ROOT / "reminder_day7" / "sms.zh-CN.txt").read_text(encoding="utf-8")
    (folder / "sms.zh-CN.txt").write_text(
        source.replace("{{ optout_instruction }}", ""), encoding="utf-8"
    )
    shutil.copy(SHIPPED_ROOT / "reminder_day7" / "sms.en-US.txt", folder / "sms.en-US.txt")

    # When it is pushed / Then it is refused with exit 1, naming file and rule
    assert rung(["templates", "push", str(tmp_path), "--author", "olivia", *STORE_ARGS]) == 1
    err = capsys.readouterr().err
    assert "nothing pushed: 1 lint error(s)" in err
    assert "reminder_day7/sms.zh-CN.txt: optout:" in err
    # ... and nothing was stored, not even the clean file
    assert rung(["templates", "list", "--json", *STORE_ARGS]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_templates_approve_takes_the_id_as_list_prints_it(
    table: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given olivia pushed the day-1 templates and list shows them
    root = tmp_path / "messages"
    shutil.copytree(SHIPPED_ROOT / "reminder_day1", root / "reminder_day1")
    assert rung(["templates", "push", str(root), "--author", "olivia", *STORE_ARGS]) == 0
    capsys.readouterr()
    assert rung(["templates", "list", *STORE_ARGS]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "sms.zh-CN.txt@" in x)
    printed = line.split()[0]  # e.g. reminder_day1/sms.zh-CN.txt@0123456789ab

    # When priya approves exactly what list printed, with no --channel or --locale
    assert rung(["templates", "approve", printed, "--by", "priya", "--json", *STORE_ARGS]) == 0

    # Then that version is approved
    approved = json.loads(capsys.readouterr().out)
    assert (approved["file"], approved["status"]) == ("reminder_day1/sms.zh-CN.txt", "APPROVED")
    assert printed.endswith("@" + approved["version"])
