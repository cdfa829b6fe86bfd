"""A partner's record: the share of their scored leads and sales that were flagged.

Points scale with that share (half flagged: half the weight), once at least
``threshold`` of them were flagged — so a partner's risk score rises with their
history, and one flagged lead among hundreds does not mark them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from antifraud.signals.base import Batch, Hit, batch_signal


def _many(batch: Batch, conf: dict[str, Any]) -> dict[Any, Hit]:
    from antifraud.models import RiskAssessment

    rows = (
        RiskAssessment.objects.filter(partner_id__in=batch.ids, subject__in=("lead", "conversion"))
        .values("partner_id")
        .annotate(
            total=Count("pk"),
            flagged=Count("pk", filter=~Q(level=RiskAssessment.Level.OK)),
        )
    )
    out = {}
    for row in rows:
        total, flagged = row["total"], row["flagged"]
        if flagged < int(conf["threshold"]) or not total:
            continue
        share = flagged / total
        out[row["partner_id"]] = Hit(
            points=max(1, round(int(conf["weight"]) * share)),
            params={"flagged": flagged, "total": total, "percent": round(share * 100)},
            evidence={"flagged": flagged, "total": total},
            match_key="history",
        )
    return out


PARTNER_HISTORY = batch_signal(
    code="partner_history",
    title=_("Flagged history"),
    explanation=_(
        "%(flagged)s of the partner's %(total)s leads and sales were flagged (%(percent)s%%)."
    ),
    partner_reason=_("Your account is being reviewed."),
    subjects=("partner",),
    defaults={"enabled": True, "weight": 100, "threshold": 2, "window_minutes": 0},
    help=_("Threshold: how many flagged leads and sales before the history counts."),
    many=_many,
)
