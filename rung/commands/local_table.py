"""`--create-table` for the commands that talk to one table on a local endpoint (moto_server,
DynamoDB Local): on AWS the stack owns its tables, so creating one there is refused."""

from __future__ import annotations

from typing import Any

from rung.commands.failure import CommandError


def require_local_endpoint(table_name: str, endpoint_url: str | None) -> None:
    """`--create-table` without `--endpoint-url` is refused before any AWS call."""
    if not endpoint_url:
        raise CommandError(
            "--create-table is for local endpoints (--endpoint-url); on AWS the stack owns "
            f"the table {table_name}"
        )


def create_local_table(client: Any, table_name: str, *, range_key: str | None = None) -> None:
    """Create `table_name` (hash key `pk`, optional range key) unless it exists already, so
    running the same command twice works."""
    keys = [("pk", "HASH"), *([(range_key, "RANGE")] if range_key else [])]
    try:
        client.create_table(
            TableName=table_name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n, _ in keys],
            KeySchema=[{"AttributeName": n, "KeyType": kind} for n, kind in keys],
        )
    except client.exceptions.ResourceInUseException:
        return  # there already: nothing to do
    client.get_waiter("table_exists").wait(TableName=table_name)


def missing_table_hint(error: Exception, table_name: str, *, endpoint_url: str | None) -> str:
    """An AWS error in words that name the table, with the way out when it does not exist."""
    if type(error).__name__ == "NoRegionError":
        return "no AWS region: pass --region or set AWS_DEFAULT_REGION"
    text = f"table {table_name}: {error}"
    if "ResourceNotFoundException" in type(error).__name__ or "ResourceNotFound" in str(error):
        where = f" at {endpoint_url}" if endpoint_url else ""
        text = f"table {table_name} does not exist{where}"
        text += (
            " (add --create-table to create it on this local endpoint)"
            if endpoint_url
            else " (deploy the stack, or pass --table / --region for the one it created)"
        )
    return text
