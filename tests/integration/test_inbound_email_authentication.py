"""Only a From address that DMARC authenticates can lift an opt-out or hold a ladder.

SPF and DKIM each pass for whatever domain did the sending or signing: an attacker's own
domain passes both while the From header names a borrower. DMARC passes only when SPF or
DKIM passed *for the From domain* (alignment). So an email may opt someone out on any verdict
(one address less is harmless) but may re-subscribe or claim a payment only on a DMARC pass.
The events are SES receipt notifications as AWS sends them (tests/fixtures/aws).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from functions.core.models import AccountStatus, Channel, Suppression, SuppressionSource
from tests.integration.test_optout_handler import (
    EMAIL,
    NOW,
    account,
    email_event,
    memory_services,
    must,
    run,
    sent_email,
)

# The attacker's domain passes SPF and DKIM for itself; DMARC fails for the borrower's domain.
FORGED = {"spfVerdict": "PASS", "dkimVerdict": "PASS", "dmarcVerdict": "FAIL"}
# The borrower's domain publishes no DMARC record: SES reports GRAY.
NO_DMARC = {"spfVerdict": "PASS", "dkimVerdict": "PASS", "dmarcVerdict": "GRAY"}
GENUINE = {"spfVerdict": "PASS", "dkimVerdict": "PASS", "dmarcVerdict": "PASS"}


def email_reply(text: str, verdicts: dict[str, str]) -> dict[str, Any]:
    """The SES receipt fixture with another text and these SPF/DKIM/DMARC verdicts."""
    event = email_event(text)
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    message["receipt"].update({verdict: {"status": status} for verdict, status in verdicts.items()})
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    return event


def opted_out_services() -> Any:
    services = memory_services(account())
    services.suppressions.put(
        Suppression(
            channel=Channel.EMAIL,
            address=EMAIL,
            source=SuppressionSource.REPLY,
            at=NOW - timedelta(days=1),
        )
    )
    return services


@pytest.mark.parametrize("verdicts", [FORGED, NO_DMARC], ids=["dmarc-fail", "no-dmarc-record"])
def test_a_forged_from_cannot_lift_a_borrowers_opt_out(verdicts: dict[str, str]) -> None:
    # Given a borrower who opted out of email
    services = opted_out_services()
    # When "START" arrives From their address, SPF and DKIM passing for another domain
    run(services, email_reply("START", verdicts))
    # Then the opt-out stands and nobody is told they are resubscribed
    assert services.suppressions.get(Channel.EMAIL, EMAIL) is not None
    assert sent_email(services) == []


@pytest.mark.parametrize("verdicts", [FORGED, NO_DMARC], ids=["dmarc-fail", "no-dmarc-record"])
def test_a_forged_from_cannot_hold_another_borrowers_ladder(verdicts: dict[str, str]) -> None:
    services = memory_services(account())
    run(services, email_reply("I have paid this already.", verdicts))
    assert must(services.accounts.get("demo", "A-1")).status is AccountStatus.ACTIVE


def test_a_dmarc_authenticated_borrower_can_opt_back_in_by_email() -> None:
    services = opted_out_services()
    run(services, email_reply("START", GENUINE))
    assert services.suppressions.get(Channel.EMAIL, EMAIL) is None


def test_a_dmarc_authenticated_payment_claim_holds_the_ladder() -> None:
    services = memory_services(account())
    run(services, email_reply("I have paid this already.", GENUINE))
    assert must(services.accounts.get("demo", "A-1")).status is AccountStatus.PAYMENT_CLAIMED


def test_an_unauthenticated_opt_out_is_still_honoured() -> None:
    # Failing safe: a stop request costs at most one address's reminders
    services = memory_services(account())
    run(services, email_reply("Please stop emailing me.", FORGED))
    assert services.suppressions.get(Channel.EMAIL, EMAIL) is not None
