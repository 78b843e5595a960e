"""cdk.json context: validated once, with clear errors; `//` keys are comments."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from infra.app import default_outdir
from infra.paths import CDK_OUT
from infra.stack_config import CONTEXT_KEY, RungStackConfig, cdk_json_context


@pytest.fixture
def context() -> dict[str, Any]:
    return copy.deepcopy(cdk_json_context()[CONTEXT_KEY])


def test_cdk_json_context_is_valid_and_documented(context: dict[str, Any]) -> None:
    config = RungStackConfig.from_context(context)
    assert config.alarms.ses_bounce_rate_percent == 2.5
    assert any(key.startswith("//") for key in context["alarms"])  # the SES lines explained


def test_unknown_log_retention_is_rejected_with_the_allowed_names(context: dict[str, Any]) -> None:
    context["retention"]["log_retention"] = "400"
    with pytest.raises(ValidationError, match="THIRTEEN_MONTHS"):
        RungStackConfig.from_context(context)


def test_bounce_alarm_at_ses_review_level_is_rejected(context: dict[str, Any]) -> None:
    # docs/compliance.md, Email reputation: an alarm at 5 % would fire only when SES already reviews
    # the account.
    context["alarms"]["ses_bounce_rate_percent"] = 5
    with pytest.raises(ValidationError, match="ses_bounce_rate_percent"):
        RungStackConfig.from_context(context)


def test_a_push_application_that_is_not_a_platform_application_arn_is_rejected(
    context: dict[str, Any],
) -> None:
    # An endpoint ARN where the application's belongs would grant one device, not the app.
    context["push"]["platform_applications"] = [
        "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/demo-finance/1"
    ]
    with pytest.raises(ValidationError, match="not an SNS platform application ARN"):
        RungStackConfig.from_context(context)


def test_without_push_applications_the_stack_has_no_app_push(context: dict[str, Any]) -> None:
    del context["push"]
    assert RungStackConfig.from_context(context).push.platform_applications == []


def test_misspelt_key_is_rejected(context: dict[str, Any]) -> None:
    context["alarms"]["uncertain_send"] = 1
    with pytest.raises(ValidationError, match="uncertain_send"):
        RungStackConfig.from_context(context)


def test_plain_python_run_writes_cdk_out_at_project_root() -> None:
    # Given no CDK CLI around (it would set CDK_OUTDIR) / Then cdk.out goes to the project root
    assert default_outdir({}) == str(CDK_OUT)
    assert CDK_OUT.parent == Path(__file__).resolve().parents[2]
    # And under the CLI the CLI's own output directory wins
    assert default_outdir({"CDK_OUTDIR": "/tmp/elsewhere"}) is None
