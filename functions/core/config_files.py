"""Reading the YAML configuration shipped with the code (config/, ladders/).

The Lambda asset carries each such file also pre-parsed: the asset's build
(infra/bundling.py) writes its content as JSON beside it (`profiles.yaml` →
`profiles.yaml.json`), so a function reads JSON, whose parser is loaded already, and never
imports PyYAML for its own configuration (its import was a twentieth of a cold start:
docs/decisions.md, "Cold start"). In the repository there is no such file and the YAML is
parsed, with PyYAML's C loader where it is built. Text that only arrives at run time (a lender
file pushed to the bucket, a template's front matter) is parsed as YAML by `parse_yaml`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PARSED_SUFFIX = ".json"


class NotYaml(ValueError):
    """The text is not YAML; the message says where it fails (line and column)."""


def parsed_path(path: Path) -> Path:
    """Where the asset keeps `path`'s content pre-parsed."""
    return path.with_name(path.name + PARSED_SUFFIX)


def read_config(path: Path) -> Any:
    """The content of a shipped YAML file: its pre-parsed JSON when the asset carries one.
    OSError when the file is missing; NotYaml when it is not YAML."""
    parsed = parsed_path(path)
    if parsed.is_file():
        return json.loads(parsed.read_text(encoding="utf-8"))
    return parse_yaml(path.read_text(encoding="utf-8"))


def parse_yaml(text: str) -> Any:
    """YAML text → data, as `yaml.safe_load`; NotYaml when it is not YAML."""
    import yaml  # only where there is no pre-parsed file: see the module's docstring

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise NotYaml(str(exc)) from exc


def json_faithful(data: Any) -> bool:
    """Whether JSON carries `data` unchanged (YAML dates or non-string keys would not)."""
    try:
        return bool(json.loads(json.dumps(data)) == data)
    except (TypeError, ValueError):
        return False
