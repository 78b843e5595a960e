"""Adding or changing a lender without a deploy: `rung lenders push|list` and the functions'
S3LenderSource (functions.adapters.lender_store), on moto's S3 as an operator reaches it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from functions.adapters.lender_store import S3LenderSource, lender_key
from functions.core.errors import ConfigError
from functions.core.lenders import ShippedLenders
from functions.settings import PROJECT_ROOT
from rung.cli import main

BUCKET = "rung-uploads"
DEMO = yaml.safe_load((PROJECT_ROOT / "config" / "lenders" / "demo.yaml").read_text())


class Clock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def s3(moto_endpoint: str) -> Any:
    client = boto3.client("s3", endpoint_url=moto_endpoint)
    client.create_bucket(Bucket=BUCKET)
    return client


def lender_file(folder: Path, lender_id: str, **changes: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{lender_id}.yaml"
    path.write_text(yaml.safe_dump({**DEMO, "lender_id": lender_id, **changes}))
    return path


def push(path: Path, endpoint: str) -> int:
    return main(["lenders", "push", str(path), "--bucket", BUCKET, "--endpoint-url", endpoint])


def source(s3: Any, clock: Clock | None = None) -> S3LenderSource:
    return S3LenderSource(
        BUCKET, ShippedLenders(PROJECT_ROOT), client=s3, monotonic=clock or Clock()
    )


def test_a_pushed_lender_is_loaded_by_the_functions_without_a_deploy(
    s3: Any, moto_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a new lender that no file in config/lenders/ knows
    with pytest.raises(ConfigError, match="unknown lender 'acme'"):
        source(s3).get("acme")

    # When ops push its file
    assert (
        push(lender_file(tmp_path / "new", "acme", company_name="Acme Credit"), moto_endpoint) == 0
    )

    # Then the functions' lender source loads it, and still serves the shipped lenders
    lenders = source(s3)
    assert lenders.get("acme").company_name == "Acme Credit"
    assert lenders.get("demo").company_name == "Demo Finance"
    assert lenders.ids() == ["acme", "demo", "smoke"]
    # ... and `rung lenders list` shows where each comes from
    capsys.readouterr()
    where = ["--bucket", BUCKET, "--endpoint-url", moto_endpoint, "--json"]
    assert main(["lenders", "list", *where]) == 0
    listed = {
        row["lender_id"]: row["source"] for row in json.loads(capsys.readouterr().out)["lenders"]
    }
    assert listed == {"acme": "stored", "demo": "shipped", "smoke": "shipped"}


def test_a_bad_lender_file_is_refused_naming_file_and_field_and_nothing_is_pushed(
    s3: Any, moto_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a folder with one good lender and one whose receipt address is not an address
    folder = tmp_path / "batch"
    lender_file(folder, "acme")
    bad = lender_file(folder, "beta", receipt_emails=["not-an-address"])

    # When pushed
    assert push(folder, moto_endpoint) == 2

    # Then the error names the file and the field, and neither file was stored
    err = capsys.readouterr().err
    assert str(bad) in err and "receipt_emails.0" in err
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="lenders/").get("KeyCount") == 0


def test_a_file_whose_lender_id_differs_from_its_name_is_refused(
    s3: Any, moto_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gamma.yaml"
    path.write_text(yaml.safe_dump({**DEMO, "lender_id": "delta"}))
    assert push(path, moto_endpoint) == 2
    assert "gamma.yaml: lender_id: 'delta' differs from the file name 'gamma'" in (
        capsys.readouterr().err
    )


def test_a_bad_stored_file_is_refused_by_the_functions_naming_file_and_field(s3: Any) -> None:
    # Given a file written to the bucket around `rung lenders push`, without an email_from
    broken = {k: v for k, v in DEMO.items() if k != "email_from"} | {"lender_id": "acme"}
    s3.put_object(Bucket=BUCKET, Key=lender_key("acme"), Body=yaml.safe_dump(broken).encode())

    # When the functions load it, then it is refused with the file and the field named
    with pytest.raises(ConfigError, match=r"s3://rung-uploads/lenders/acme.yaml: email_from: "):
        source(s3).get("acme")


def test_a_stored_file_wins_over_the_shipped_one_and_changes_reach_within_the_cache_time(
    s3: Any, moto_endpoint: str, tmp_path: Path
) -> None:
    # Given the demo lender pushed with a new company name, read once by a running function
    clock = Clock()
    lenders = source(s3, clock)
    assert push(lender_file(tmp_path / "v1", "demo", company_name="Demo One"), moto_endpoint) == 0
    first = lenders.get("demo")
    assert first.company_name == "Demo One"

    # When it is pushed again with another name
    assert push(lender_file(tmp_path / "v2", "demo", company_name="Demo Two"), moto_endpoint) == 0

    # Then a function holds the old one until its cache time ends, then reads the new one
    clock.now = 59.0
    assert lenders.get("demo") is first
    clock.now = 61.0
    second = lenders.get("demo")
    assert second.company_name == "Demo Two"
    # ... and an unchanged file is not parsed again (S3 answers the ETag with 304)
    clock.now = 200.0
    assert lenders.get("demo") is second
