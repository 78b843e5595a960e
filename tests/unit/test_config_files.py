"""Shipped configuration: pre-parsed JSON where the asset carries it, YAML otherwise."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from functions.core.config_files import NotYaml, json_faithful, parse_yaml, read_config


def test_a_pre_parsed_file_is_read_instead_of_the_yaml(tmp_path: Path) -> None:
    # Given a YAML file and, beside it, JSON saying something else
    path = tmp_path / "rules.yaml"
    path.write_text("source: yaml\n", encoding="utf-8")
    (tmp_path / "rules.yaml.json").write_text(json.dumps({"source": "json"}), encoding="utf-8")
    # When it is read / Then the JSON is what counts (the asset's build wrote it from the YAML)
    assert read_config(path) == {"source": "json"}


def test_without_a_pre_parsed_file_the_yaml_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("caps:\n  - 3\n  - 7\nname: 退订\n", encoding="utf-8")
    assert read_config(path) == {"caps": [3, 7], "name": "退订"}


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        read_config(tmp_path / "absent.yaml")


def test_text_that_is_not_yaml_says_where() -> None:
    with pytest.raises(NotYaml, match="line 2"):
        parse_yaml("a: [1, 2\nb: }\n")


def test_yaml_is_read_safely() -> None:
    with pytest.raises(NotYaml):
        parse_yaml("!!python/object/apply:os.system ['true']\n")


@pytest.mark.parametrize(
    ("data", "faithful"),
    [
        ({"a": [1, 2.5, "x", None, True]}, True),
        ({1: "integer key"}, False),
        ({"starts": date(2026, 12, 1)}, False),
    ],
)
def test_json_faithful_tells_what_json_would_change(data: object, faithful: bool) -> None:
    assert json_faithful(data) is faithful
