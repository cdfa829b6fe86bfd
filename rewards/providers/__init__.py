"""Payout providers: the interface in ``base``, one module per provider."""

from __future__ import annotations

from prm.crypto import DecryptionError, decrypt
from rewards.models.payouts import PayoutMethod
from rewards.providers.base import (
    FAILED,
    PAID,
    PENDING,
    PayoutItem,
    PayoutProvider,
    ProviderError,
)
from rewards.providers.paypal import PayPalPayouts

__all__ = [
    "FAILED",
    "PAID",
    "PENDING",
    "PayPalPayouts",
    "PayoutItem",
    "PayoutProvider",
    "ProviderError",
    "provider_for",
]


def provider_for(method: PayoutMethod) -> PayoutProvider:
    """The provider that sends this method's batches; ProviderError (not retryable) when
    the method is paid by hand or its provider settings are incomplete."""
    if method.provider != PayoutMethod.Provider.PAYPAL:
        raise ProviderError(
            f"payout method {method.name!r} is paid by hand, not through a provider",
            retryable=False,
            code="MANUAL",
        )
    # PayPal Payouts pays to PayPal e-mail addresses; card numbers or IBANs would be
    # rejected item by item, or worse, land on an e-mail that happens to match.
    if method.kind != PayoutMethod.Kind.PAYPAL:
        raise ProviderError(
            f"payout method {method.name!r} pays to {method.kind} details, "
            "which PayPal Payouts cannot send to",
            retryable=False,
            code="NOT_CONFIGURED",
        )
    if not (
        method.provider_base_url and method.provider_client_id and method.provider_secret_encrypted
    ):
        raise ProviderError(
            f"payout method {method.name!r} lacks the PayPal API URL, client id or secret",
            retryable=False,
            code="NOT_CONFIGURED",
        )
    try:
        secret = decrypt(method.provider_secret_encrypted)
    except DecryptionError as exc:
        raise ProviderError(
            f"the PayPal secret of payout method {method.name!r} cannot be decrypted: {exc}",
            retryable=False,
            code="NOT_CONFIGURED",
        ) from exc
    return PayPalPayouts(method.provider_base_url, method.provider_client_id, secret)
