"""CDK entry point: `python -m infra.app` (or `python infra/app.py`) writes cdk.out/ at the
project root without AWS credentials; `cdk deploy` runs the same code via cdk.json."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra.paths import CDK_OUT
from infra.stack import RungStack
from infra.stack_config import CONTEXT_KEY, RungStackConfig, cdk_json_context

# Set by the CDK CLI when it runs this app; a plain `python` run writes to the project root.
CLI_OUTDIR = "CDK_OUTDIR"


def build_app(
    outdir: Path | None = None,
    *,
    cloudformation_validation: bool = True,
    context: Mapping[str, object] | None = None,
) -> tuple[App, RungStack]:
    """The app with cdk-nag attached: any unacknowledged finding fails synthesis.

    `cloudformation_validation` is CDK's built-in template validator (about 15 s per synth);
    the test suite turns it off and runs cfn-lint on the template instead. `context` replaces
    cdk.json's (tests synthesize other deployments, e.g. with SFTP on).
    """
    # cdk.json's context is the default; the CLI's context (e.g. `-c`) overrides it.
    app = App(
        outdir=str(outdir) if outdir else default_outdir(os.environ),
        context=dict(context) if context is not None else cdk_json_context(),
        builtin_cloud_formation_validation=cloudformation_validation,
    )
    config = RungStackConfig.from_context(app.node.try_get_context(CONTEXT_KEY))
    stack = RungStack(app, config.stack_name, config=config)
    check_compliance(app)
    return app, stack


def default_outdir(environ: Mapping[str, str]) -> str | None:
    """cdk.out at the project root, whatever the working directory; the CLI chooses its own."""
    return None if CLI_OUTDIR in environ else str(CDK_OUT)


def check_compliance(app: App) -> None:
    """cdk-nag AWS Solutions rules: an unacknowledged finding fails synthesis. Acknowledged
    findings are copied with their reasons into each resource's `cdk_nag` metadata (audit trail)."""
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True)
    )


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
