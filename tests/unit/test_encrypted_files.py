"""OpenPGP-encrypted lender files: decrypted with our key, the lender's signature checked when
its configuration names a signing key, and every failure a whole-file rejection naming why.

Keys are generated per module with Sequoia (the library the schedule function uses)."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import boto3
import pysequoia
import pytest
from moto import mock_aws

from functions.adapters.openpgp import OpenPgpDecryption
from functions.bootstrap import memory_services
from functions.core.clock import FixedClock
from functions.core.errors import FileRejected
from functions.core.intake import UploadKey, ingest
from functions.core.lenders import load_lender
from functions.settings import PROJECT_ROOT, Settings
from rung.cli import main
from rung.commands.validate import EXIT_REJECTED_ROWS, EXIT_UNUSABLE, validate

SAMPLES = PROJECT_ROOT / "samples"
SAMPLE_KEY = SAMPLES / "pgp" / "rung-secret.asc"
PLAIN = (SAMPLES / "accounts.csv").read_bytes()
NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


class Keys:
    def __init__(self) -> None:
        self.ours = pysequoia.Tsk.generate("Rung <files@rung.invalid>")
        self.lender = pysequoia.Tsk.generate("Lender <files@lender.invalid>")
        self.stranger = pysequoia.Tsk.generate("Someone else <x@elsewhere.invalid>")

    @property
    def secret(self) -> str:
        return str(self.ours)

    @property
    def lender_public(self) -> str:
        return str(self.lender.extract_certificate())

    def encrypt(
        self, body: bytes = PLAIN, *, signer: pysequoia.Tsk | None = None, to: object = None
    ) -> bytes:
        recipient = to or self.ours.extract_certificate()
        return pysequoia.encrypt(
            body, recipients=[recipient], signer=signer.signer() if signer else None
        )


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


def decrypt(keys: Keys, encrypted: bytes, signed_by: str | None, key: str | None = None) -> bytes:
    decryption = OpenPgpDecryption(lambda: keys.secret if key is None else key)
    with decryption.open(io.BytesIO(encrypted), signed_by) as plain:
        return plain.read()


def test_decrypts_a_file_encrypted_to_our_key(keys: Keys) -> None:
    assert decrypt(keys, keys.encrypt(), None) == PLAIN


def test_a_signed_file_passes_when_the_lender_requires_its_signature(keys: Keys) -> None:
    assert decrypt(keys, keys.encrypt(signer=keys.lender), keys.lender_public) == PLAIN


@pytest.mark.parametrize("signer", [None, "stranger"])
def test_unsigned_or_foreign_signed_file_is_rejected_when_the_lender_signs(
    keys: Keys, signer: str | None
) -> None:
    encrypted = keys.encrypt(signer=keys.stranger if signer else None)
    with pytest.raises(FileRejected, match="not signed by the lender's signing key"):
        decrypt(keys, encrypted, keys.lender_public)


def test_file_for_another_key_is_rejected_naming_why(keys: Keys) -> None:
    encrypted = keys.encrypt(to=keys.stranger.extract_certificate())
    with pytest.raises(FileRejected, match=r"could not be decrypted: No key to decrypt message$"):
        decrypt(keys, encrypted, None)


def test_tampered_file_is_rejected_and_leaves_nothing_behind(keys: Keys) -> None:
    encrypted = bytearray(
        pysequoia.encrypt(PLAIN * 20, [keys.ours.extract_certificate()], armor=False)
    )
    encrypted[len(encrypted) // 2] ^= 0x01  # one bit in the middle of the data
    before = set(Path(tempfile.gettempdir()).glob("rung-pgp-*"))
    with pytest.raises(FileRejected, match="could not be decrypted"):
        decrypt(keys, bytes(encrypted), None)
    assert set(Path(tempfile.gettempdir()).glob("rung-pgp-*")) == before


def test_without_an_installed_key_encrypted_files_are_rejected(keys: Keys) -> None:
    # The stack's secret holds a random placeholder until `rung pgp-key install`
    with pytest.raises(FileRejected, match="no decryption key is installed"):
        decrypt(keys, keys.encrypt(), None, key="Zx8-random-placeholder")


def test_plaintext_is_removed_once_read(keys: Keys) -> None:
    decryption = OpenPgpDecryption(lambda: keys.secret)
    with decryption.open(io.BytesIO(keys.encrypt()), None) as plain:
        path = Path(plain.name)
        assert path.is_file()
    assert not path.parent.exists()


@pytest.mark.parametrize(
    ("key", "name", "encrypted"),
    [
        ("uploads/demo/march.csv.pgp", "march", True),
        ("uploads/demo/march.csv.GPG", "march", True),
        ("payments/demo/paid.csv.asc", "paid", True),
        ("uploads/demo/march.csv", "march", False),
    ],
)
def test_upload_key_knows_encrypted_files(key: str, name: str, encrypted: bool) -> None:
    upload = UploadKey.parse(key)
    assert (upload.name, upload.encrypted) == (name, encrypted)


# -- intake: a whole-file rejection that the installed key lets through on re-delivery --------


def test_encrypted_upload_before_the_key_is_installed_goes_through_once_it_is(
    keys: Keys, tmp_path: Path
) -> None:
    # Given a lender that does not sign its files, and no key installed yet
    shutil.copytree(PROJECT_ROOT / "config", tmp_path / "config")
    (tmp_path / "ladders").symlink_to(PROJECT_ROOT / "ladders")
    demo = tmp_path / "config" / "lenders" / "demo.yaml"
    demo.write_text(demo.read_text(encoding="utf-8").split("# Its OpenPGP")[0], encoding="utf-8")
    installed = {"key": ""}
    services = memory_services(
        Settings(config_root=tmp_path),
        FixedClock(NOW),
        decryption=OpenPgpDecryption(lambda: installed["key"]),
    )
    services.objects.put("uploads/demo/march.csv.pgp", keys.encrypt(), "application/pgp-encrypted")
    first = ingest(services, "uploads/demo/march.csv.pgp", "e1", NOW, tmp_path)
    assert first.record.file_error.startswith("the file is OpenPGP-encrypted but no decryption")
    # When the key is installed and the same file is delivered again
    installed["key"] = keys.secret
    second = ingest(services, "uploads/demo/march.csv.pgp", "e1", NOW, tmp_path).record
    # Then it is read like the plain file, as the second attempt
    assert (second.attempt, second.rows, second.accepted, second.rejected) == (2, 15, 14, 1)
    assert second.report_key == "rejects/demo/march.rejects.csv"


# -- the command line, on the shipped encrypted sample -----------------------------------------


def test_validate_reads_the_encrypted_sample_like_the_plain_one() -> None:
    plain, encrypted = StringIO(), StringIO()
    assert validate(SAMPLES / "accounts.csv", "demo", True, plain) == EXIT_REJECTED_ROWS
    code = validate(SAMPLES / "accounts.csv.pgp", "demo", True, encrypted, pgp_key=SAMPLE_KEY)
    assert code == EXIT_REJECTED_ROWS
    assert json.loads(encrypted.getvalue()) == json.loads(plain.getvalue())


def test_validate_without_the_key_says_the_file_is_unusable_and_why() -> None:
    out = StringIO()
    assert validate(SAMPLES / "accounts.csv.pgp", "demo", True, out) == EXIT_UNUSABLE
    assert "no decryption key is installed" in json.loads(out.getvalue())["file_error"]


def test_the_sample_is_signed_by_the_demo_lender(keys: Keys) -> None:
    # The demo lender's configuration names its signing key: the shipped sample carries it
    lender = load_lender(PROJECT_ROOT, "demo")
    assert lender.pgp_signing_key is not None
    decryption = OpenPgpDecryption(lambda: SAMPLE_KEY.read_text(encoding="ascii"))
    stored = (SAMPLES / "accounts.csv.pgp").open("rb")
    with stored, decryption.open(stored, lender.pgp_signing_key) as plain:
        assert plain.read() == PLAIN
    # and an unsigned file to our sample key is refused for that lender
    ours = pysequoia.Tsk.from_file(str(SAMPLE_KEY)).extract_certificate()
    unsigned = io.BytesIO(pysequoia.encrypt(PLAIN, [ours]))
    with (
        pytest.raises(FileRejected, match="not signed"),
        decryption.open(unsigned, lender.pgp_signing_key),
    ):
        pass


def test_pgp_key_create_writes_a_private_secret_and_refuses_to_overwrite(tmp_path: Path) -> None:
    assert main(["pgp-key", "create", "--out", str(tmp_path)]) == 0
    secret = tmp_path / "rung-secret.asc"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert pysequoia.Tsk.from_file(str(secret)).extract_certificate().fingerprint == (
        pysequoia.Cert.from_file(str(tmp_path / "rung-public.asc")).fingerprint
    )
    assert main(["pgp-key", "create", "--out", str(tmp_path)]) == 2


def test_pgp_key_install_stores_a_secret_key_and_refuses_a_public_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["pgp-key", "create", "--out", str(tmp_path)]) == 0
    with mock_aws():
        client = boto3.client("secretsmanager")
        arn = client.create_secret(Name="rung-pgp-key", SecretString="placeholder")["ARN"]
        public = ["--key", str(tmp_path / "rung-public.asc"), "--secret-arn", arn]
        assert main(["pgp-key", "install", *public]) == 2
        assert client.get_secret_value(SecretId=arn)["SecretString"] == "placeholder"
        secret = ["--key", str(tmp_path / "rung-secret.asc"), "--secret-arn", arn]
        assert main(["pgp-key", "install", *secret]) == 0
        installed = client.get_secret_value(SecretId=arn)["SecretString"]
    assert installed == (tmp_path / "rung-secret.asc").read_text(encoding="ascii")
