"""Four-eyes approval of message templates, pure over the TemplateStore port
(docs/design.md, Templates and approval).

- `push` stores every file whose content hash is new as a DRAFT by its author; the same
  content pushed again is not a new version.
- `approve` needs a clean lint (no errors) for the template's profile and an approver who is
  not the author; it records who, when and the lint result, bound to that exact content hash.
- The send gate uses the newest APPROVED version: editing an approved template makes a new
  DRAFT, and until that is approved the previously approved words stay in use
  (docs/user-stories.md, story 10).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from functions.core.errors import RungError
from functions.core.lenders import LenderConfig
from functions.core.lint import LintResult, LintRules, lint_template, profile_for
from functions.core.models import Channel, TemplateStatus, TemplateVersion
from functions.core.ports import TemplateStore
from functions.core.templates import TemplateFile, discover, file_name, load, parse_template

# The simulator's stated policy: a lint-clean template counts as approved (two distinct
# names, so the four-eyes rule is exercised rather than bypassed).
SIMULATOR_AUTHOR = "simulator"
SIMULATOR_APPROVER = "simulator-lint"


class ApprovalError(RungError):
    """A template version cannot be approved; subclasses say why."""


class SelfApprovalError(ApprovalError):
    """Four eyes: the author of a version may not approve it."""


class LintFailedError(ApprovalError):
    def __init__(self, message: str, result: LintResult) -> None:
        super().__init__(message)
        self.result = result


class UnknownVersionError(ApprovalError):
    """No such template version is stored."""


class AlreadyApprovedError(ApprovalError):
    """The version is already approved; approvals are never overwritten."""


@dataclass(frozen=True)
class PushResult:
    template_id: str
    channel: Channel
    locale: str
    version: str
    created: bool  # False: this exact content was already stored


@dataclass(frozen=True)
class AutoApproval:
    template_id: str
    channel: Channel
    locale: str
    version: str
    approved: bool  # approved now or before; False ⇒ lint errors keep it a DRAFT
    lint: LintResult


def _person(name: str) -> str:
    return " ".join(name.split()).casefold()


def push(
    store: TemplateStore, files: Iterable[TemplateFile], *, author: str, at: datetime
) -> list[PushResult]:
    """Store each file's content as a DRAFT version (parsed first: malformed files never land)."""
    if not _person(author):
        raise ApprovalError("push needs an author name")
    results = []
    for file in files:
        template = load(file)
        created = store.put_draft(
            TemplateVersion(
                template_id=template.template_id,
                channel=template.channel,
                locale=template.locale,
                version=template.version,
                source=template.source,
                status=TemplateStatus.DRAFT,
                author=author.strip(),
                created_at=at,
            )
        )
        results.append(
            PushResult(
                template.template_id, template.channel, template.locale, template.version, created
            )
        )
    return results


def approve(
    store: TemplateStore,
    template_id: str,
    channel: Channel,
    locale: str,
    version: str,
    *,
    by: str,
    at: datetime,
    lender: LenderConfig,
    rules: LintRules | None = None,
) -> TemplateVersion:
    """Approve one stored version (SelfApprovalError, LintFailedError, UnknownVersionError)."""
    where = f"{file_name(template_id, channel, locale)}@{version}"
    stored = store.get(template_id, channel, locale, version)
    if stored is None:
        raise UnknownVersionError(f"{where}: no such version (see `rung templates list`)")
    if stored.status is TemplateStatus.APPROVED:
        raise AlreadyApprovedError(
            f"{where}: already approved by {stored.approver} at {stored.approved_at}"
        )
    if not _person(by):
        raise ApprovalError(f"{where}: approve needs the approver's name")
    if _person(by) == _person(stored.author):
        raise SelfApprovalError(f"{where}: {by!r} wrote this version; someone else must approve it")
    template = parse_template(template_id, channel, locale, stored.source, stored.version)
    result = lint_template(
        template, lender=lender, profile_name=profile_for(template, rules), rules=rules
    )
    if not result.ok:
        rules_hit = ", ".join(sorted({f.rule for f in result.errors}))
        raise LintFailedError(f"{where}: lint errors ({rules_hit}); fix and push again", result)
    return store.approve(
        template_id, channel, locale, version, by=by.strip(), at=at, lint=result.to_dict()
    )


def approve_lint_clean(
    store: TemplateStore, templates_root: Path, lender: LenderConfig, at: datetime
) -> list[AutoApproval]:
    """Simulator policy: push every file as `simulator` and approve the lint-clean ones.

    Files with lint errors stay DRAFT, so their rungs are SUPPRESSED `template_not_approved`
    exactly as on AWS. Idempotent: approved versions are left as they are.
    """
    outcomes = []
    for pushed in push(store, discover(templates_root), author=SIMULATOR_AUTHOR, at=at):
        key = (pushed.template_id, pushed.channel, pushed.locale, pushed.version)
        stored = store.get(*key)
        if stored is None:
            raise UnknownVersionError(f"{file_name(*key[:3])}@{pushed.version}: lost after push")
        template = parse_template(*key[:3], stored.source, stored.version)
        result = lint_template(template, lender=lender, profile_name=profile_for(template))
        approved = stored.status is TemplateStatus.APPROVED
        if not approved and result.ok:
            approver = SIMULATOR_APPROVER
            if _person(stored.author) == _person(approver):  # a human pushed it under that name
                approver = f"{SIMULATOR_APPROVER}-2"
            store.approve(*key, by=approver, at=at, lint=result.to_dict())
            approved = True
        outcomes.append(AutoApproval(*key, approved=approved, lint=result))
    return outcomes
