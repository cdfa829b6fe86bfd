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
    return _converted(amount, rate, used, base, quote)


def _converted(
    amount: Decimal, rate: Decimal, used: ExchangeRate, base: str, quote: str
) -> tuple[Decimal, dict[str, Any]]:
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


class RateBook:
    """The exchange rates a batch of accruals needs, read in one query and resolved
    exactly as ``convert`` resolves them (latest direct rate on or before the day, else
    the inverse of the latest inverse one; never rounded)."""

    def __init__(self, currencies: set[str]) -> None:
        self.by_pair: dict[tuple[str, str], list[ExchangeRate]] = {}
        if len(currencies) < 2:
            return
        rows = ExchangeRate.objects.filter(base__in=currencies, quote__in=currencies).order_by(
            "base", "quote", "-valid_from"
        )
        for row in rows:
            self.by_pair.setdefault((row.base, row.quote), []).append(row)

    def _latest(self, base: str, quote: str, day: date) -> ExchangeRate | None:
        for row in self.by_pair.get((base, quote), ()):  # newest first
            if row.valid_from <= day:
                return row
        return None

    def convert(
        self, amount: Decimal, base: str, quote: str, day: date
    ) -> tuple[Decimal, dict[str, Any]]:
        if base == quote:
            return amount, {}
        direct = self._latest(base, quote, day)
        if direct is not None:
            return _converted(amount, direct.rate, direct, base, quote)
        inverse = self._latest(quote, base, day)
        if inverse is None:
            raise ValidationError(
                NO_RATE,
                code="no_exchange_rate",
                params={"base": base, "quote": quote, "day": day},
            )
        return _converted(amount, Decimal(1) / inverse.rate, inverse, base, quote)
