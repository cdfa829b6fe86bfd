"""What the payout services need from a payment provider, whichever it is."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

# What batch_status() says about each of our items.
PAID = "paid"
FAILED = "failed"
PENDING = "pending"


@dataclass(frozen=True)
class PayoutItem:
    """One payout inside a batch: our id for it, the net amount and who receives it."""

    item_id: str
    amount: Decimal
    currency: str
    receiver: str
    note: str = ""


class ProviderError(Exception):
    """A provider call failed.

    ``retryable`` says whether sending the same call again later may succeed (timeouts,
    rate limits, the provider's own errors); when False a person has to fix something
    first (credentials, the request, the account). ``code`` is the provider's error name
    when it gave one, e.g. "VALIDATION_ERROR".
    """

    def __init__(
        self, message: str, *, retryable: bool, code: str = "", status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code
        self.status = status

    def __str__(self) -> str:
        return self.message


class PayoutProvider(Protocol):
    def send_batch(self, *, batch_id: str, items: list[PayoutItem]) -> str:
        """Send the items; returns the provider's id for the batch.

        Sending the same ``batch_id`` again must not pay twice: it returns the id of the
        batch the provider already has.
        """
        ...

    def batch_status(self, provider_batch_id: str) -> dict[str, str]:
        """Our item_id -> PAID, FAILED or PENDING, for the items the provider reports."""
        ...
