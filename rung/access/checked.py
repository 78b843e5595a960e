"""IAM checks for tests that call a handler directly on moto (without a whole local world).

    with checked_calls(settings) as access:
        with access.invocation(HANDLERS["schedule"]):
            schedule.handler(event, context, services=services)
    assert access.denials == []

The roles come from the synthesized stack; the template's tables, bucket, secret and state
machine are bound to the resources `settings` names, as in the local world.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from moto.core import DEFAULT_ACCOUNT_ID

from functions.settings import Settings
from rung.access import stack as stack_access
from rung.access.enforcer import AccessEnforcer
from rung.access.requests import Where
from rung.access.stack import (
    HANDLERS,
    environment_of,
    sending_identity,
    sms_identity_arn,
    stack_name,
)
from rung.access.template import Physical, synthesized_template


@contextmanager
def checked_calls(
    settings: Settings,
    *,
    region: str = "us-east-1",
    account: str = DEFAULT_ACCOUNT_ID,
    functions: dict[str, tuple[str, str]] | None = None,
    created: dict[str, Physical] | None = None,
) -> Iterator[AccessEnforcer]:
    """An enforcer installed for the block; calls are checked only inside `invocation`."""
    template = synthesized_template()
    local = stack_access.LocalResources(
        region=region,
        account=account,
        stack_name=stack_name(),
        environment=environment_of(settings),
        functions=functions or {},
        state_machine_arn=settings.state_machine_arn,
        created=created or {},
    )
    where = Where(
        region=region,
        account=account,
        secret_arn=lambda secret: secret,
        email_identity=lambda address: sending_identity(address, region, account),
        sms_identity=lambda identity: sms_identity_arn(identity, region, account),
    )
    enforcer = stack_access.enforcer(template, local, where, HANDLERS)
    with ExitStack() as stack:
        enforcer.install(stack)
        yield enforcer
