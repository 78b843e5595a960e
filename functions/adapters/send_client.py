"""How the send step's provider clients (SMS, email, push) call AWS.

Apart from functions.adapters.aws_errors, which every handler imports: `botocore.config`
pulls in botocore's whole HTTP stack, which belongs with the clients (boto3 imports it when
the first client is made), not in a handler's import (docs/decisions.md, "Cold start").
"""

from __future__ import annotations

from botocore.config import Config

# One attempt per provider call: botocore's own retries would resend after a read timeout,
# which is exactly the double send the ledger exists to prevent. Step Functions retries
# TransientSendError instead, after the send Lambda releases its ledger claim.
SEND_CLIENT_CONFIG = Config(
    retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=3, read_timeout=10
)
