"""Where the CDK app finds the repository, independent of the current working directory."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = PROJECT_ROOT / "cdk.json"
CDK_OUT = PROJECT_ROOT / "cdk.out"
LADDER_ASL = PROJECT_ROOT / "infra" / "statemachines" / "ladder.asl.json"
BUNDLE_CACHE = PROJECT_ROOT / ".bundle"  # git-ignored pip cache for the Lambda asset
