"""Currency conversion with a stored rate snapshot."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from rewards.models import ExchangeRate

NO_RATE = _("No exchange rate from %(base)s to %(quote)s on %(day)s: add one in Rewards → Rates.")


def convert(amount: Decimal, base: str, quote: str, day: date) -> tuple[Decimal, dict[str, Any]]:
    """``amount`` in ``base`` as ``quote``, and the snapshot to store beside it."""
    if base == quote:
        return amount, {}
    direct = (
        ExchangeRate.objects.filter(base=base, quote=quote, valid_from__lte=day)
        .order_by("-valid_from")
        .first()
    )
    if direct is not None:
        rate = direct.rate
        used = direct
    else:
        inverse = (
            ExchangeRate.objects.filter(base=quote, quote=base, valid_from__lte=day)
            .order_by("-valid_from")
            .first()
        )
        if inverse is None:
            raise ValidationError(
                NO_RATE,
                code="no_exchange_rate",
                params={"base": base, "quote": quote, "day": day},
            )
        rate = Decimal(1) / inverse.rate
        used = inverse
    # Not rounded here: the reward is rounded once, after the percent is applied
    # (EUR 100.05 at 1.08, 10 %: 10.81, not 10.80 from a rounded base).
    converted = amount * rate
    return converted, {
        "from": base,
        "to": quote,
        "original": str(amount),
        "rate": str(rate.quantize(Decimal("0.00000001"))),
        "rate_date": used.valid_from.isoformat(),
        "rate_source": used.source,
    }
