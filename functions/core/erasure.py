"""Erasure of a borrower's personal data (docs/compliance.md, Records and erasure). Pure.

A borrower (every account holding an address, or one account and its addresses) is erased by
replacing each raw address and account id with a keyed pseudonym wherever a retention duty
keeps the record, and deleting it everywhere else. What must outlive the erasure is the
borrower's protection: a hashed suppression (`ErasedAddress`) that the send gate checks, so an
erased address is never contacted again, even when a lender sends it again.

Pseudonyms are HMAC-SHA256 under the unsubscribe-link signing key: the same address always
gives the same pseudonym (so the gate can recognise it) and nobody without the key can test a
guessed number against it. Rotating that key breaks the link: erased addresses would no longer
be recognised (docs/compliance.md, Records and erasure, says what to do before a rotation).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from functions.core.channels import spec
from functions.core.errors import RungError
from functions.core.models import (
    Account,
    Channel,
    ErasedAddress,
    ErasureRecord,
    Suppression,
    SuppressionScope,
    SuppressionSource,
    suppression_key,
)
from functions.core.ports import (
    AccountStore,
    BorrowerRecords,
    ErasedAddresses,
    ErasureScope,
)

PSEUDONYM_PREFIX = "erased:"
PSEUDONYM_HEX = 32  # 128 bits of the HMAC: no collision among any number of borrowers
# Lender files (and payments files) in the uploads bucket: an erasure deletes one that names the
# borrower rather than rewrite it (a rewrite is a new upload, which the schedule function would
# take up again). Reports elsewhere (rejects/) are rewritten with pseudonyms.
LENDER_FILE_PREFIXES = ("uploads/", "payments/")


class ErasureRefused(RungError):
    """The request names nobody Rung knows, or names them badly (the CLI's exit 2)."""


def _digest(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX]


# A pure function of its arguments, the key included (a rotated key is a new cache key): the
# send step checks every address of an account on each of its steps, an HMAC each.
@lru_cache(maxsize=1 << 16)
def address_pseudonym(key: bytes, channel: Channel, address: str) -> str:
    """The keyed pseudonym of an address (case-folded as its suppressions are)."""
    return f"{PSEUDONYM_PREFIX}{_digest(key, suppression_key(channel, address))}"


def account_pseudonym(key: bytes, lender_id: str, account_id: str) -> str:
    return f"{PSEUDONYM_PREFIX}{_digest(key, f'account#{lender_id}#{account_id}')}"


def erasure_id(key: bytes, at: datetime, addresses: Iterable[str]) -> str:
    """Deterministic per request and instant: a retried erasure writes the same record."""
    return _digest(key, f"erasure#{at.isoformat()}#{'#'.join(sorted(addresses))}")


def suppression_keys_for(channel: Channel, address: str, lender_ids: Iterable[str]) -> list[str]:
    """Every key a suppression of that address may have, for those lenders."""
    keys = [suppression_key(channel, address, lender) for lender in (None, *lender_ids)]
    return list(dict.fromkeys(keys))


def erased_suppression(mark: ErasedAddress, channel: Channel, address: str) -> Suppression:
    """The gate's view of an erased address: suppressed on every channel, by erasure."""
    return Suppression(
        channel=channel,
        address=address,
        scope=SuppressionScope.ALL,
        source=SuppressionSource.ERASURE,
        at=mark.at,
        detail="the borrower's data was erased",
    )


def scrub(text: str, replacements: Mapping[str, str]) -> str:
    """`text` with every raw address replaced by its pseudonym (emails whatever their case)."""
    for raw, pseudonym in replacements.items():
        if "@" in raw:
            lowered = text.lower()
            needle = raw.lower()
            start = lowered.find(needle)
            while start != -1:
                text = text[:start] + pseudonym + text[start + len(needle) :]
                lowered = text.lower()
                start = lowered.find(needle, start + len(pseudonym))
        else:
            text = text.replace(raw, pseudonym)
    return text


def scrub_value(value: object, replacements: Mapping[str, str]) -> object:
    """A stored value (string, list, map) scrubbed the same way, recursively."""
    if isinstance(value, str):
        return scrub(value, replacements)
    if isinstance(value, list):
        return [scrub_value(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: scrub_value(v, replacements) for k, v in value.items()}
    return value


def written_forms(address: str) -> list[str]:
    """How an address may be written in a file a person made (a lender file): an E.164
    number also as +1 415-555-0123, (415) 555-0123 and 4155550123."""
    if "@" in address:
        return [address]
    import phonenumbers  # only an erasure needs it: the send function's cold start does not

    try:
        number = phonenumbers.parse(address)
    except phonenumbers.NumberParseException:
        return [address]
    formats = (
        phonenumbers.PhoneNumberFormat.E164,
        phonenumbers.PhoneNumberFormat.INTERNATIONAL,
        phonenumbers.PhoneNumberFormat.NATIONAL,
    )
    forms = [phonenumbers.format_number(number, f) for f in formats]
    forms.append(str(number.national_number))
    return list(dict.fromkeys(form for form in forms if form))


def file_replacements(replacements: Mapping[str, str]) -> dict[str, str]:
    """Every written form of every raw address -> its pseudonym, longest first (so that a
    whole number is replaced before a part of it)."""
    forms = {
        form: pseudonym for raw, pseudonym in replacements.items() for form in written_forms(raw)
    }
    return dict(sorted(forms.items(), key=lambda item: -len(item[0])))


def mentions(data: bytes, forms: Iterable[str]) -> bool:
    """Whether a file's bytes hold any of the forms (emails whatever their case). Lender
    files are UTF-8 or GB18030, in which these ASCII forms are the same bytes."""
    lowered = data.lower()
    return any(form.lower().encode("utf-8") in lowered for form in forms)


def scrub_bytes(data: bytes, forms: Mapping[str, str]) -> bytes:
    """A file's bytes with every form replaced by its pseudonym."""
    for form, pseudonym in forms.items():
        pattern = re.compile(re.escape(form.encode("utf-8")), re.IGNORECASE)
        data = pattern.sub(pseudonym.encode("utf-8"), data)
    return data


def address_channel(address: str) -> Channel:
    """The channel an address given by a person belongs to: an email or an E.164 number."""
    if "@" in address:
        return Channel.EMAIL
    if address.startswith("+") and address[1:].isdigit() and 8 <= len(address) <= 16:
        return Channel.SMS
    raise ErasureRefused(
        f"--address {address!r}: give an email address or a phone number in E.164 (+14155550123)"
    )


class Borrower(BaseModel):
    """Who one erasure is about: the accounts and every address they hold."""

    model_config = ConfigDict(frozen=True)

    accounts: tuple[Account, ...]
    addresses: tuple[tuple[Channel, str], ...]  # every form seen (an email in several cases)

    @property
    def lender_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.lender_id for a in self.accounts))


def find_borrower(
    accounts: AccountStore,
    *,
    account: tuple[str, str] | None = None,
    address: str | None = None,
) -> Borrower:
    """The accounts and addresses an erasure request names: one account (lender, id) with its
    addresses, or an address with every account holding it (and their other addresses)."""
    if (account is None) == (address is None):
        raise ErasureRefused("give either --account ID (with --lender) or --address A")
    found: list[Account] = []
    named: list[tuple[Channel, str]] = []
    if account is not None:
        lender_id, account_id = account
        stored = accounts.get(lender_id, account_id)
        if stored is None:
            raise ErasureRefused(f"no account {account_id!r} for lender {lender_id!r}")
        found.append(stored)
    else:
        assert address is not None
        channel = address_channel(address)
        given = address.strip()
        named.append((channel, given))
        # Stored as the lender wrote it; suppressions fold the case of emails.
        for form in dict.fromkeys((given, spec(channel).fold(given))):
            found.extend(accounts.find_by_address(channel, form))
    found = list({held.key: held for held in found}.values())
    pairs = [*named]
    for held in found:
        pairs.extend((c, a) for c in Channel if (a := held.address(c)) is not None)
    return Borrower(accounts=tuple(found), addresses=tuple(dict.fromkeys(pairs)))


# What an erasure leaves as it was, and why (the record says so to whoever reads it).
KEPT = {
    "audit": "gate decisions stay until their records retention ends (12 CFR 1006.100): they "
    "carry the lender's account id and a masked address, never a raw one",
    "account_ids": "the lender's account id stays in ledger and audit keys until their "
    "retention ends: it is how the lender answers for that debt",
    "logs": "logs carry masked addresses only and expire with the log retention",
}


class ErasurePorts(Protocol):
    @property
    def accounts(self) -> AccountStore: ...
    @property
    def erased(self) -> ErasedAddresses: ...
    @property
    def records(self) -> BorrowerRecords: ...


def erase_borrower(
    ports: ErasurePorts,
    borrower: Borrower,
    *,
    key: bytes,
    at: datetime,
    by: str,
    lender_ids: Iterable[str],
) -> ErasureRecord:
    """Erase `borrower`: hashed suppressions first (so no instant leaves an address
    unprotected), then every record, then the audit's record of the erasure.

    `lender_ids`: every lender the deployment serves. A borrower may have opted out of a lender
    that holds none of their accounts (an old account, or one erased already), and under
    `scope: lender` that opt-out is kept under the lender's own key."""
    if not by.strip():
        raise ErasureRefused("say who erases (--by NAME): the audit records it")
    replacements = {a: address_pseudonym(key, c, a) for c, a in borrower.addresses}
    pseudonyms = tuple(dict.fromkeys(replacements.values()))
    identifier = erasure_id(key, at, pseudonyms)
    for pseudonym in pseudonyms:
        ports.erased.put(ErasedAddress(pseudonym=pseudonym, at=at, erasure_id=identifier))
    tally = ports.records.erase(
        ErasureScope(
            accounts=borrower.accounts,
            addresses=borrower.addresses,
            replacements=replacements,
            lender_ids=tuple(dict.fromkeys((*borrower.lender_ids, *lender_ids))),
        )
    )
    record = ErasureRecord(
        erasure_id=identifier,
        at=at,
        by=by.strip(),
        accounts=tuple(
            account_pseudonym(key, a.lender_id, a.account_id) for a in borrower.accounts
        ),
        addresses=pseudonyms,
        removed=dict(sorted(tally.removed.items())),
        pseudonymised=dict(sorted(tally.pseudonymised.items())),
        kept=KEPT,
    )
    ports.records.record(record)
    return record
