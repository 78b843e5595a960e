"""Lambda events exactly as AWS shapes them, for the simulator's engines and the tests.

The simulator feeds its handlers the same JSON S3, SNS and SES would, so nothing but the
transport differs between a simulation and production (shapes: docs/design.md, Provider events).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from functions.core.payments_file import parse_paid_at
from rung.engine import ScriptedReply

# Links in simulated emails are signed like real ones but point nowhere.
UNSUBSCRIBE_URL = "https://unsubscribe.rung.invalid/"


@dataclass(frozen=True)
class LocalContext:
    """The parts of a Lambda context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:local"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def s3_put_event(bucket: str, key: str, body: bytes, at: datetime) -> dict[str, Any]:
    """An S3 ObjectCreated:Put notification for `key` (ETag = MD5 of the body, as S3 sets it)."""
    etag = hashlib.md5(body, usedforsecurity=False).hexdigest()
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": _iso(at),
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": key, "size": len(body), "eTag": etag},
                },
            }
        ]
    }


def _sns_record(topic_arn: str, message: str, at: datetime, subject: str | None) -> dict[str, Any]:
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": f"{topic_arn}:{uuid.UUID(int=0)}",
        "Sns": {
            "Type": "Notification",
            "MessageId": str(uuid.uuid5(uuid.NAMESPACE_URL, topic_arn + message)),
            "TopicArn": topic_arn,
            "Subject": subject,
            "Message": message,
            "Timestamp": _iso(at),
            "SignatureVersion": "1",
            "MessageAttributes": {},
        },
    }


def inbound_sms_message(reply: ScriptedReply, destination: str) -> str:
    """The two-way SMS JSON End User Messaging publishes (the SNS `Message` string)."""
    inbound_id = str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"{reply.at.isoformat()}|{reply.sender}|{reply.text}")
    )
    keyword = reply.text.strip().split()[0].upper() if reply.text.strip() else ""
    return json.dumps(
        {
            "originationNumber": reply.sender,
            "destinationNumber": destination,
            "messageKeyword": keyword,
            "messageBody": reply.text,
            "inboundMessageId": inbound_id,
            "previousPublishedMessageId": None,
        }
    )


def inbound_email_message(reply: ScriptedReply, recipient: str) -> str:
    """An SES receipt-rule SNS notification (`Received`) with the raw MIME in `content`."""
    mime = EmailMessage()
    mime["From"] = reply.sender
    mime["To"] = recipient
    mime["Subject"] = "Re: your account"
    mime["Message-ID"] = f"<{uuid.uuid5(uuid.NAMESPACE_URL, reply.sender + reply.text)}@local>"
    mime.set_content(reply.text)
    message_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{reply.at.isoformat()}|{reply.sender}"))
    return json.dumps(
        {
            "notificationType": "Received",
            "mail": {
                "timestamp": _iso(reply.at),
                "source": reply.sender,
                "messageId": message_id,
                "destination": [recipient],
                "commonHeaders": {
                    "from": [reply.sender],
                    "to": [recipient],
                    "subject": "Re: your account",
                },
            },
            # A borrower's own mail: their provider's SPF, DKIM and DMARC all pass.
            "receipt": {
                "spfVerdict": {"status": "PASS"},
                "dkimVerdict": {"status": "PASS"},
                "dmarcVerdict": {"status": "PASS"},
                "action": {"type": "SNS", "encoding": "UTF8"},
            },
            "content": mime.as_string(),
        }
    )


def sns_event(
    topic_arn: str, message: str, at: datetime, subject: str | None = None
) -> dict[str, Any]:
    return {"Records": [_sns_record(topic_arn, message, at, subject)]}


def payments_key(lender_id: str, at: datetime) -> str:
    return f"payments/{lender_id}/{at:%Y%m%dT%H%M%S}.csv"


def split_payments(body: bytes) -> list[tuple[datetime, bytes]]:
    """One payments file → one file per `paid_at` instant, each uploaded at that instant.

    Rows whose `paid_at` does not parse stay in a part delivered at the start, where intake
    rejects them with their reason like any other bad row.
    """
    reader = csv.DictReader(io.StringIO(body.decode("utf-8-sig")))
    fields = reader.fieldnames or ["account_id", "paid_at", "amount"]
    parts: dict[datetime, list[dict[str, str]]] = {}
    for row in reader:
        try:
            at = parse_paid_at(row.get("paid_at") or "")
        except ValueError:
            at = datetime.min.replace(tzinfo=UTC)
        parts.setdefault(at, []).append(row)
    out = []
    for at in sorted(parts):
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(parts[at])
        out.append((at, buffer.getvalue().encode("utf-8")))
    return out
