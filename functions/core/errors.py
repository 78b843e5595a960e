"""Typed errors. Names matter: the ladder ASL's Retry/Catch match on them."""


class RungError(Exception):
    """Base of every error Rung raises on purpose."""


class TransientSendError(RungError):
    """The provider, or an AWS service the send step needs, is throttling or failing for now
    (throttling, 5xx): nothing was sent; the ladder retries, then defers the rung."""


class PermanentSendError(RungError):
    """The provider refused this message for good (invalid number, MessageRejected, opted out)."""

    def __init__(self, reason: str, message: str = "", *, address_gone: bool = False) -> None:
        super().__init__(message or reason)
        self.reason = reason
        # The address itself is dead (a push endpoint the platform disabled): the send step
        # suppresses it, so no later rung tries it again.
        self.address_gone = address_gone


class UncertainSendError(RungError):
    """The request may have reached the provider (read timeout, dropped connection).

    Never retried: the rung ends UNCERTAIN and an alarm asks ops to reconcile
    (docs/design.md, At most once).
    """


class ConfigError(RungError):
    """Configuration (lender, ladder, profile) is missing or invalid."""


class FileRejected(RungError):
    """A lender file cannot be read at all; the whole file is rejected with this reason."""
