"""Cookie stuffing: the lead (or sale) came implausibly soon after the click that is
credited with it — a person does not read a page and fill a form in a second or two."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from antifraud.signals._query import last_clicks
from antifraud.signals.base import Batch, Hit, batch_signal


def _many(batch: Batch, conf: dict[str, Any]) -> dict[Any, Hit]:
    seconds = int(conf["threshold"])
    out = {}
    clicks = last_clicks(batch)
    for obj in batch.objs:
        click = clicks.get(obj.pk)
        if click is None or click.partner_id != obj.partner_id or obj.partner_id is None:
            continue
        gap = (obj.created_at - click.created_at).total_seconds()
        if 0 <= gap < seconds:
            out[obj.pk] = Hit(
                points=int(conf["weight"]),
                params={"seconds": round(gap, 1)},
                evidence={"clicks": [str(click.pk)]},
                match_key=f"visitor:{obj.visitor_id}"[:128],
            )
    return out


FAST_CLICK = batch_signal(
    code="fast_click",
    title=_("Too fast after the click"),
    explanation=_("Only %(seconds)s seconds passed between the click and this lead or sale."),
    partner_reason=_("Unusual traffic pattern."),
    subjects=("lead", "conversion"),
    defaults={"enabled": True, "weight": 25, "threshold": 3, "window_minutes": 0},
    help=_("Threshold: seconds; anything faster after the click fires."),
    many=_many,
)
