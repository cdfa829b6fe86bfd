"""A sale far above the program's usual amounts: more than ``threshold`` times the 95th
percentile of its recent sales in the same currency.

The percentile comes from a bounded sample (the last ``sample`` sales within the
window), cached per program and currency for ten minutes: scoring never scans a
program's history, whatever its size. Programs with fewer than ``min_sample`` sales
have no usual amount yet (the tenant's cap still applies: ``amount_cap``).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from antifraud.signals.base import Batch, Hit, batch_signal

CACHE_SECONDS = 600


def percentile(values: list[Decimal], q: float) -> Decimal:
    """The ``q`` quantile with linear interpolation (as PostgreSQL's percentile_cont)."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * Decimal(str(q))
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def p95(program_id: Any, currency: str, conf: dict[str, Any]) -> Decimal | None:
    from programs.models import Conversion

    key = f"af:p95:{program_id}:{currency}:{conf['window_minutes']}:{conf['sample']}"
    cached = cache.get(key)
    if cached is not None:
        return Decimal(cached) if cached else None
    since = timezone.now() - timedelta(minutes=int(conf["window_minutes"]))
    amounts = list(
        Conversion.objects.filter(program_id=program_id, currency=currency, created_at__gte=since)
        .exclude(kind="subscription")
        .order_by("-created_at")
        .values_list("amount", flat=True)[: int(conf["sample"])]
    )
    value = percentile(amounts, 0.95) if len(amounts) >= int(conf["min_sample"]) else None
    cache.set(key, str(value) if value is not None else "", CACHE_SECONDS)
    return value


def _many(batch: Batch, conf: dict[str, Any]) -> dict[Any, Hit]:
    factor = Decimal(str(conf["threshold"]))
    out = {}
    usual: dict[tuple[Any, str], Decimal | None] = {}
    for obj in batch.objs:
        pair = (obj.program_id, obj.currency)
        if pair not in usual:
            usual[pair] = p95(obj.program_id, obj.currency, conf)
        base = usual[pair]
        if base is None or base <= 0 or obj.amount <= base * factor:
            continue
        out[obj.pk] = Hit(
            points=int(conf["weight"]),
            params={
                "amount": f"{obj.amount} {obj.currency}",
                "times": str(round(obj.amount / base, 1)),
                "p95": f"{base.quantize(Decimal('0.01'))} {obj.currency}",
            },
            evidence={"value": str(base)},
            match_key=f"program:{obj.program_id}",
        )
    return out


AMOUNT_OUTLIER = batch_signal(
    code="amount_outlier",
    title=_("Unusually large sale"),
    explanation=_(
        "%(amount)s is %(times)s times this program's usual large sale (95th percentile: %(p95)s)."
    ),
    partner_reason=_("The sale is being verified."),
    subjects=("conversion",),
    defaults={
        "enabled": True,
        "weight": 50,
        "threshold": 10,
        "window_minutes": 90 * 24 * 60,
        "sample": 1000,
        "min_sample": 20,
    },
    help=_("Threshold: how many times the 95th percentile of recent sales."),
    many=_many,
)
