"""Paid search on a program that forbids it: the click's landing URL carried an ad
network's click id (gclid, yclid, fbclid, msclkid)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from antifraud.signals._query import last_clicks
from antifraud.signals.base import Batch, Hit, batch_signal


def _many(batch: Batch, conf: dict[str, Any]) -> dict[Any, Hit]:
    out = {}
    clicks = last_clicks(batch)
    for obj in batch.objs:
        click = clicks.get(obj.pk)
        if click is None or not obj.program.forbid_paid_search or not click.paid_click:
            continue
        out[obj.pk] = Hit(
            points=int(conf["weight"]),
            params={"param": click.paid_click},
            evidence={"clicks": [str(click.pk)], "value": click.paid_click},
            match_key=f"partner:{obj.partner_id}",
        )
    return out


PAID_SEARCH = batch_signal(
    code="paid_search",
    title=_("Paid search"),
    explanation=_("The click came from an ad (%(param)s); the program forbids paid search."),
    partner_reason=_("The traffic source does not meet the program's terms."),
    subjects=("lead", "conversion"),
    defaults={"enabled": True, "weight": 40, "threshold": 1, "window_minutes": 0},
    help=_("Only in programs that forbid paid search."),
    many=_many,
)
