"""Erasure's pure core: keyed pseudonyms, the suppression keys an address may have, scrubbing
raw addresses out of text and files, finding who a request names, and the gate's answer."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from functions.adapters.memory import MemoryAccountStore
from functions.core.erasure import (
    ErasureRefused,
    address_channel,
    address_pseudonym,
    erased_suppression,
    file_replacements,
    find_borrower,
    mentions,
    scrub,
    scrub_bytes,
    suppression_keys_for,
    written_forms,
)
from functions.core.models import Account, Channel, ErasedAddress, suppression_key
from functions.core.policy import GateInput, Verdict, decide
from functions.core.profiles import load_profiles
from functions.settings import PROJECT_ROOT

KEY = b"unit-test-key"
PHONE = "+12125550123"
AT = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # Wed 12:00 in New York


def account(account_id: str = "A1", **changes: object) -> Account:
    fields: dict[str, object] = {
        "lender_id": "demo",
        "account_id": account_id,
        "phone": PHONE,
        "email": "Jane.Doe@Example.com",
        "amount_due": Decimal("120.50"),
        "currency": "USD",
        "due_date": date(2026, 6, 1),
        "locale": "en-US",
        "country": "US",
        "state": "NY",
    }
    fields.update(changes)
    return Account.model_validate(fields)


def test_pseudonym_is_keyed_stable_and_case_folded_for_email() -> None:
    alias = address_pseudonym(KEY, Channel.SMS, PHONE)
    assert alias == address_pseudonym(KEY, Channel.SMS, PHONE)
    assert alias.startswith("erased:") and PHONE not in alias and "2125550123" not in alias
    assert alias != address_pseudonym(b"another key", Channel.SMS, PHONE)
    assert address_pseudonym(KEY, Channel.EMAIL, "Jane.Doe@Example.com") == address_pseudonym(
        KEY, Channel.EMAIL, "jane.doe@example.com"
    )


def test_suppression_keys_for_lists_each_lenders_key_once() -> None:
    address_key = suppression_key(Channel.SMS, PHONE)
    keys = suppression_keys_for(Channel.SMS, PHONE, ["demo", "demo", "acme"])
    assert keys == [address_key, f"lender#demo#{address_key}", f"lender#acme#{address_key}"]


def test_scrub_replaces_emails_whatever_their_case_and_phones() -> None:
    swap = {"jane.doe@example.com": "erased:e", PHONE: "erased:p"}
    text = f"JANE.DOE@example.com wrote from {PHONE}; jane.doe@EXAMPLE.com again"
    assert scrub(text, swap) == "erased:e wrote from erased:p; erased:e again"
    assert scrub("nothing here", swap) == "nothing here"


def test_written_forms_of_a_number_and_file_scrubbing() -> None:
    assert set(written_forms(PHONE)) == {PHONE, "+1 212-555-0123", "(212) 555-0123", "2125550123"}
    forms = file_replacements({PHONE: "erased:p", "jane@example.com": "erased:e"})
    data = b"A1,(212) 555-0123,JANE@example.com\nA2,+1 212-555-0199,x@example.com\n"
    assert mentions(data, forms)
    assert scrub_bytes(data, forms) == (b"A1,erased:p,erased:e\nA2,+1 212-555-0199,x@example.com\n")
    assert not mentions(b"A2,+1 212-555-0199\n", forms)


@pytest.mark.parametrize("address", ["2125550123", "+1 212 555 0123", "jane", ""])
def test_address_channel_refuses_what_is_neither_email_nor_e164(address: str) -> None:
    with pytest.raises(ErasureRefused, match=r"E\.164"):
        address_channel(address)


def test_find_borrower_by_account_takes_its_addresses() -> None:
    store = MemoryAccountStore()
    store.put_many([account(), account("A2", phone="+12125550199", email=None)])
    borrower = find_borrower(store, account=("demo", "A1"))
    assert [a.account_id for a in borrower.accounts] == ["A1"]
    assert set(borrower.addresses) == {
        (Channel.SMS, PHONE),
        (Channel.EMAIL, "Jane.Doe@Example.com"),
    }


def test_find_borrower_by_address_finds_every_account_holding_it() -> None:
    store = MemoryAccountStore()
    store.put_many([account("A1"), account("A2", email="jane.doe@example.com", phone=None)])
    borrower = find_borrower(store, address="jane.doe@example.com")
    assert {a.account_id for a in borrower.accounts} == {"A2"}
    # Stored with capitals on A1: the lower-case request finds it only through A2's form; the
    # request's own form is erased too.
    assert (Channel.EMAIL, "jane.doe@example.com") in borrower.addresses
    by_phone = find_borrower(store, address=PHONE)
    assert {a.account_id for a in by_phone.accounts} == {"A1"}
    assert (Channel.EMAIL, "Jane.Doe@Example.com") in by_phone.addresses


def test_find_borrower_refuses_unknown_or_ambiguous_requests() -> None:
    store = MemoryAccountStore()
    with pytest.raises(ErasureRefused, match="no account 'A9' for lender 'demo'"):
        find_borrower(store, account=("demo", "A9"))
    with pytest.raises(ErasureRefused, match="either"):
        find_borrower(store)
    with pytest.raises(ErasureRefused, match="either"):
        find_borrower(store, account=("demo", "A1"), address=PHONE)


def test_gate_suppresses_an_erased_address_saying_so() -> None:
    mark = ErasedAddress(
        pseudonym=address_pseudonym(KEY, Channel.SMS, PHONE), at=AT, erasure_id="e"
    )
    held = erased_suppression(mark, Channel.SMS, PHONE)
    for channel in (Channel.SMS, Channel.EMAIL):  # every channel: the borrower is gone
        gate = GateInput(
            account=account(),
            channel=channel,
            now=AT,
            template_version="v1",
            suppressions=(held,),
        )
        result = decide(gate, load_profiles(PROJECT_ROOT))
        assert (result.verdict, result.rule, result.reason) == (
            Verdict.SUPPRESS,
            "suppression",
            "erased",
        )
        assert "erasure" in result.detail
