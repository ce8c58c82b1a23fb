"""Typed adapter errors. The activity layer turns them into Temporal retry decisions in one place."""


class AdapterError(Exception):
    """Something an external system did not do. `system` names it for operators."""

    retryable = False

    def __init__(self, system: str, message: str, *, code: str = "", status: int | None = None) -> None:
        super().__init__(f"{system}: {message}")
        self.system = system
        self.message = message
        self.code = code
        self.status = status


class RetryableError(AdapterError):
    """Transient: connection failures, timeouts, 429, 5xx without a business code.

    `sent` is False only when the request provably did nothing (no connection, our own rate budget, a 429
    refusal): a call that is not idempotent may then be sent again; otherwise it may have been carried out.
    """

    retryable = True

    def __init__(self, system: str, message: str, *, retry_after: float | None = None, sent: bool = True,
                 **kw) -> None:
        super().__init__(system, message, **kw)
        self.retry_after = retry_after
        self.sent = sent


class NonRetryableError(AdapterError):
    """The request itself was refused (bad credentials, invalid payload, missing record): retrying cannot help."""


class BusinessError(NonRetryableError):
    """The data needs a person: unknown SKU, unknown currency, a gateway refusing a refund."""


class NotReadyYet(AdapterError):
    """Not yet: the system lacks something that comes later on its own (a credit note before the sale's invoice
    is posted). Neither a fault to retry at once nor a person's job: the caller waits for it, then tries again."""


class BatchTooLarge(NonRetryableError):
    """A batch refused for its size as a whole (nothing in it was applied): split it and send the parts.

    `limit` is how many items the system said it accepts, None when it did not say in a form we read.
    """

    def __init__(self, system: str, message: str, *, limit: int | None = None, **kw) -> None:
        super().__init__(system, message, **kw)
        self.limit = limit
