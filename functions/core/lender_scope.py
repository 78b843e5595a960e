"""Several lenders in one deployment: how far an opt-out and a frequency cap reach.

`config/collector.yaml` says whether the deployment is one debt collector serving many
creditors (`scope: collector`, the default) or several creditors each sending under their own
identity (`scope: lender`). docs/compliance.md, Several lenders in one deployment, gives the
sources. In short:

- `collector`: an opt-out from electronic communications binds the debt collector, whichever
  creditor's debt the message was about, and caps count per borrower address across lenders.
- `lender`: a STOP to lender A's number or an unsubscribe from A's email stops A only, and caps
  count per lender. What stays deployment-wide whatever the scope, on the safe side: an
  "everything" opt-out, a reply that reached a number or address more than one lender (or no
  lender) sends from, wrong-number reports, bounces, complaints, dead push endpoints, and
  every opt-out a person records from the review queue.
- Statuses that describe the person (cease, attorney, bankruptcy, deceased, dispute) follow the
  borrower's reply to every account at that address, whatever the scope.

Pure: the store is a port; time and lenders come in as arguments.
"""

from __future__ import annotations

from collections.abc import Iterable
from email.utils import parseaddr
from enum import StrEnum
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from functions.core.channels import spec
from functions.core.config_files import NotYaml, read_config
from functions.core.errors import ConfigError
from functions.core.lenders import LenderConfig
from functions.core.models import (
    Account,
    Channel,
    Suppression,
    SuppressionScope,
    SuppressionSource,
    suppression_key,
)
from functions.core.ports import SuppressionStore

COLLECTOR_FILE = Path("config") / "collector.yaml"


_CHANNELS = tuple(Channel)  # iterating the enum itself costs more than the look-ups below


class Scope(StrEnum):
    COLLECTOR = "collector"  # one debt collector: opt-outs and caps span every lender
    LENDER = "lender"  # each lender a separate sender: opt-outs and caps per lender


# What the borrower said to one sender about that sender's messages. Everything else is a fact
# about the address (bounce, complaint, dead endpoint, wrong number) and binds every lender.
_LENDER_SCOPED_SOURCES = frozenset({SuppressionSource.REPLY, SuppressionSource.UNSUBSCRIBE})


class CollectorConfig(BaseModel):
    """`config/collector.yaml`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scope: Scope = Scope.COLLECTOR

    def opt_out_lender(
        self, attributed: str | None, scope: SuppressionScope, source: SuppressionSource
    ) -> str | None:
        """The lender an opt-out binds, or None for every lender (module docstring)."""
        if self.scope is Scope.COLLECTOR or attributed is None:
            return None
        if scope is SuppressionScope.ALL or source not in _LENDER_SCOPED_SOURCES:
            return None
        return attributed

    def cap_lender(self, account: Account) -> str | None:
        """Whose attempts to the borrower's address the per-address caps count (None: all)."""
        return account.lender_id if self.scope is Scope.LENDER else None


def load_collector(config_root: Path) -> CollectorConfig:
    """The deployment's scope; without the file, the safe default (`collector`)."""
    return _load_collector(config_root)


@cache
def _load_collector(config_root: Path) -> CollectorConfig:
    path = config_root / COLLECTOR_FILE
    if not path.is_file():
        return CollectorConfig()
    try:
        raw = read_config(path) or {}
        return CollectorConfig.model_validate(raw)
    except NotYaml as exc:
        raise ConfigError(f"{COLLECTOR_FILE}: not YAML: {exc}") from exc
    except ValidationError as exc:
        fields = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(top)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(f"{COLLECTOR_FILE}: {fields}") from exc


def binding_keys(account: Account) -> tuple[str, ...]:
    """Suppression keys that bind messages to `account`: on each of its addresses, the
    deployment-wide key and its own lender's key."""
    return tuple(
        suppression_key(channel, address, lender)
        for channel in Channel
        if (address := account.address(channel))
        for lender in (None, account.lender_id)
    )


def binding_suppressions(store: SuppressionStore, account: Account) -> tuple[Suppression, ...]:
    """Every suppression that binds messages to `account`, whatever the scope in force: a
    lender-scoped opt-out written under `scope: lender` still holds after a switch back to
    `collector`. Two reads per address (deployment-wide and own lender)."""
    found = []
    for channel in _CHANNELS:
        address = account.address(channel)
        if not address:
            continue
        for lender in (None, account.lender_id):
            suppression = store.get(channel, address, lender_id=lender)
            if suppression is not None:
                found.append(suppression)
    return tuple(found)


def attributed_lender(
    channel: Channel, ours: Iterable[str], lenders: Iterable[LenderConfig]
) -> str | None:
    """The one lender whose sending identity on `channel` (SMS origination, email From) the
    borrower wrote to; None when no lender or several lenders send from it (a shared number)."""
    shape = spec(channel)
    reached = {shape.fold(address) for address in ours}
    owners = set()
    for lender in lenders:
        origination = shape.lender_value(lender, shape.origination_field)
        if origination and shape.fold(parseaddr(origination)[1]) in reached:
            owners.add(lender.lender_id)
    return owners.pop() if len(owners) == 1 else None
