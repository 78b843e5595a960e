"""cdk-nag and cfn-lint: the stack passes both, and every exception carries a written reason."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3
from cfnlint.api import lint

from infra.app import check_compliance
from tests.infra.conftest import Synthesized

# Regions where every service of the stack exists (SES receipt rules are regional).
LINT_REGIONS = ["us-east-1", "us-west-2", "eu-west-1"]


def test_synthesis_reports_no_validation_findings(synthesized: Synthesized) -> None:
    # Given the app synthesised with cdk-nag (the fixture fails if synthesis is refused)
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    # Then no plugin reported a violation
    violations = [v for plugin in report["pluginReports"] for v in plugin.get("violations", [])]
    assert violations == []


def test_every_nag_acknowledgment_has_a_written_reason(synthesized: Synthesized) -> None:
    # Given the cdk_nag audit trail that cdk-nag writes into resource metadata
    acknowledged = [
        (logical_id, rule)
        for logical_id, resource in synthesized.template["Resources"].items()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    # Then there is a trail (cdk-nag ran on this app) and each entry names a rule and a reason
    assert acknowledged, "cdk-nag wrote no audit trail: is check_compliance() attached?"
    for logical_id, rule in acknowledged:
        assert re.fullmatch(r"AwsSolutions-[A-Z]+\d+(\[.+\])?", rule["id"]), (logical_id, rule)
        assert len(rule["reason"].split()) >= 5, (logical_id, rule)  # a sentence, not "ok"


def test_check_compliance_refuses_an_unacknowledged_finding() -> None:
    # Given a throwaway app with a bucket that breaks AWS Solutions rules (no TLS, no logs)
    app = App(builtin_cloud_formation_validation=False)
    s3.Bucket(Stack(app, "Careless"), "Bucket")
    check_compliance(app)
    # When it is synthesised / Then synthesis fails and names the rule
    with pytest.raises(RuntimeError, match=r"AwsSolutions-S10"):
        app.synth()


def test_template_passes_cfn_lint_without_errors(synthesized: Synthesized) -> None:
    # Given the synthesised template / When cfn-lint checks it for the supported regions
    template = (synthesized.outdir / "Rung.template.json").read_text(encoding="utf-8")
    matches = lint(template, regions=LINT_REGIONS)
    # Then there is no error (warnings such as W3005 on CDK's explicit DependsOn are fine)
    errors = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]
    assert errors == []
