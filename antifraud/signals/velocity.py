"""A partner selling far faster than before, or converting far better than their peers.

* Own history: at least ``min_count`` of the partner's sales in the program within the
  window before this one, and more than ``threshold`` times their usual number per
  window over the ``history_days`` before it (a new partner's usual is one).
* Peers: over the last ``rate_days``, the partner's sales per click is more than
  ``threshold`` times the other partners' in the program, with at least ``min_clicks``
  clicks (the program's totals are cached for ten minutes).

One query for the batch's own-history counts, one for the partners' clicks and sales.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from antifraud.signals._query import count_sub
from antifraud.signals.base import Batch, Hit, batch_signal


def _program_totals(program_id: Any, days: int) -> tuple[int, int]:
    """The program's clicks and sales over the last ``days`` (cached ten minutes)."""
    from programs.models import Click, Conversion

    key = f"af:rate:{program_id}:{days}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    since = timezone.now() - timedelta(days=days)
    totals = (
        Click.objects.filter(program_id=program_id, created_at__gte=since).count(),
        Conversion.objects.filter(program_id=program_id, created_at__gte=since).count(),
    )
    cache.set(key, totals, 600)
    return totals


def _peers_rate(program_id: Any, days: int, own_clicks: int, own_sales: int) -> float | None:
    """The other partners' sales per click in the program (None: too little to say)."""
    clicks, sales = _program_totals(program_id, days)
    clicks, sales = max(clicks - own_clicks, 0), max(sales - own_sales, 0)
    if clicks < 100 or not sales:
        return None
    return sales / clicks


def _many(batch: Batch, conf: dict[str, Any]) -> dict[Any, Hit]:
    from programs.models import Click, Conversion

    minutes, factor = int(conf["window_minutes"]), float(conf["threshold"])
    window = timedelta(minutes=minutes)
    history = timedelta(days=int(conf["history_days"]))
    objs = [o for o in batch.objs if o.partner_id]
    if not objs:
        return {}
    recent = Conversion.objects.filter(
        program_id=OuterRef("program_id"),
        partner_id=OuterRef("partner_id"),
        created_at__gt=OuterRef("created_at") - window,
        created_at__lte=OuterRef("created_at"),
    )
    before = Conversion.objects.filter(
        program_id=OuterRef("program_id"),
        partner_id=OuterRef("partner_id"),
        created_at__gt=OuterRef("created_at") - window - history,
        created_at__lte=OuterRef("created_at") - window,
    )
    counts = {
        pk: (n, h)
        for pk, n, h in Conversion.objects.filter(pk__in=[o.pk for o in objs])
        .annotate(n=count_sub(recent), h=count_sub(before))
        .values_list("pk", "n", "h")
    }
    rate_days = int(conf["rate_days"])
    since = timezone.now() - timedelta(days=rate_days)
    from partners.models import PartnerProfile

    partner_clicks = Click.objects.filter(partner_id=OuterRef("pk"), created_at__gte=since)
    partner_sales = Conversion.objects.filter(partner_id=OuterRef("pk"), created_at__gte=since)
    clicks, sales = {}, {}
    for pk, n_clicks, n_sales in (
        PartnerProfile.objects.filter(pk__in={o.partner_id for o in objs})
        .annotate(c=count_sub(partner_clicks), s=count_sub(partner_sales))
        .values_list("pk", "c", "s")
    ):
        clicks[pk], sales[pk] = n_clicks, n_sales
    windows_in_history = max(history / window, 1)
    out = {}
    for obj in objs:
        n, h = counts.get(obj.pk, (0, 0))
        usual = max(h / windows_in_history, 1.0)
        params: dict[str, Any] = {}
        if n >= int(conf["min_count"]) and n > factor * usual:
            params = {"count": n, "usual": round(usual, 1), "minutes": minutes}
        n_clicks, n_sales = clicks.get(obj.partner_id, 0), sales.get(obj.partner_id, 0)
        if not params and n_clicks >= int(conf["min_clicks"]):
            peers = _peers_rate(obj.program_id, rate_days, n_clicks, n_sales)
            rate = n_sales / n_clicks
            if peers and rate > factor * peers:
                params = {
                    "count": n_sales,
                    "usual": round(peers * n_clicks, 1),
                    "minutes": rate_days * 24 * 60,
                }
        if params:
            out[obj.pk] = Hit(
                points=int(conf["weight"]),
                params=params,
                evidence={"partner": str(obj.partner_id), "clicks": n_clicks, "sales": n_sales},
                match_key=f"partner:{obj.partner_id}",
            )
    return out


VELOCITY = batch_signal(
    code="velocity",
    title=_("Sales far above usual"),
    explanation=_(
        "%(count)s sales within %(minutes)s minutes, where about %(usual)s would be usual "
        "for this partner or their peers."
    ),
    partner_reason=_("Your recent results are being verified."),
    subjects=("conversion",),
    defaults={
        "enabled": True,
        "weight": 30,
        "threshold": 5,
        "window_minutes": 24 * 60,
        "min_count": 10,
        "history_days": 30,
        "rate_days": 7,
        "min_clicks": 50,
    },
    help=_("Threshold: how many times the partner's usual (or the program's rate)."),
    many=_many,
)
