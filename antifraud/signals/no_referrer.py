"""Clicks with no referring page, on a program whose terms require one (links posted on
sites, not typed, forced by scripts or hidden in frames)."""

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
        if click is None or not obj.program.forbid_no_referrer or click.referrer:
            continue
        out[obj.pk] = Hit(
            points=int(conf["weight"]),
            evidence={"clicks": [str(click.pk)]},
            match_key=f"partner:{obj.partner_id}",
        )
    return out


NO_REFERRER = batch_signal(
    code="no_referrer",
    title=_("Click without a referrer"),
    explanation=_("The click came with no referring page; the program requires one."),
    partner_reason=_("The traffic source does not meet the program's terms."),
    subjects=("lead", "conversion"),
    defaults={"enabled": True, "weight": 30, "threshold": 1, "window_minutes": 0},
    help=_("Only in programs set to require a referrer."),
    many=_many,
)
