"""A sale above the largest plausible one: the tenant's cap (settings, in its
currency), or by default this signal's threshold in US dollars."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from antifraud.signals.base import Batch, Hit, batch_signal

log = logging.getLogger(__name__)


def _many(batch: Batch, conf: dict[str, Any]) -> dict[Any, Hit]:
    from rewards.services.fx import RateBook

    settings_row = batch.cache.get("settings")
    if settings_row is not None and settings_row.amount_cap is not None:
        cap, cap_currency = settings_row.amount_cap, settings_row.amount_cap_currency
    else:
        cap, cap_currency = Decimal(str(conf["threshold"])), "USD"
    book = RateBook({o.currency for o in batch.objs} | {cap_currency})
    out = {}
    for obj in batch.objs:
        try:
            amount, _fx = book.convert(
                obj.amount, obj.currency, cap_currency, obj.occurred_at.date()
            )
        except ValidationError:
            log.info("amount cap: no rate %s→%s for %s", obj.currency, cap_currency, obj.pk)
            continue
        if amount <= cap:
            continue
        out[obj.pk] = Hit(
            points=int(conf["weight"]),
            params={"amount": f"{obj.amount} {obj.currency}", "cap": f"{cap} {cap_currency}"},
            evidence={"value": f"{amount} {cap_currency}"},
            match_key=f"program:{obj.program_id}",
        )
    return out


AMOUNT_CAP = batch_signal(
    code="amount_cap",
    title=_("Above the largest plausible sale"),
    explanation=_("%(amount)s is above the cap of %(cap)s."),
    partner_reason=_("The sale is being verified."),
    subjects=("conversion",),
    defaults={"enabled": True, "weight": 50, "threshold": 1_000_000, "window_minutes": 0},
    help=_("Threshold: the cap in US dollars when the settings give none."),
    many=_many,
)
