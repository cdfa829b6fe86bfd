"""One person, several partner accounts: the partner's e-mail, phone, payout details
or sign-in device are another partner's too (a second account to refer themselves,
or to collect a multi-level share)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from antifraud.signals._query import fingerprints
from antifraud.signals.base import Batch, Hit, batch_signal

KINDS = ("email", "phone", "device", "card", "iban", "wallet")


def _many(batch: Batch, conf: dict[str, Any]) -> dict[Any, Hit]:
    from antifraud.models import PartnerFingerprint

    prints = fingerprints(batch)
    values = {v for kinds in prints.values() for k, vs in kinds.items() if k in KINDS for v in vs}
    if not values:
        return {}
    others: dict[tuple[str, str], set[Any]] = {}
    for partner_id, kind, value in PartnerFingerprint.objects.filter(
        kind__in=KINDS, value__in=list(values)
    ).values_list("partner_id", "kind", "value"):
        others.setdefault((kind, value), set()).add(partner_id)
    out = {}
    for obj in batch.objs:
        shared: dict[str, set[str]] = {}
        for kind, vs in prints.get(obj.pk, {}).items():
            if kind not in KINDS:
                continue
            for value in vs:
                for other in others.get((kind, value), set()) - {obj.pk}:
                    shared.setdefault(kind, set()).add(str(other))
        if not shared:
            continue
        partners = sorted({p for ps in shared.values() for p in ps})
        out[obj.pk] = Hit(
            points=int(conf["weight"]),
            params={"fields": ", ".join(sorted(shared)), "count": len(partners)},
            evidence={"partners": partners[:20], "partner_fields": sorted(shared)},
            match_key=f"partners:{','.join(partners[:3])}"[:128],
        )
    return out


DUPLICATE_PARTNER = batch_signal(
    code="duplicate_partner",
    title=_("Another account of the same person"),
    explanation=_("Shares %(fields)s with %(count)s other partner account(s)."),
    partner_reason=_("Only one partner account per person is allowed."),
    subjects=("partner",),
    defaults={"enabled": True, "weight": 50, "threshold": 1, "window_minutes": 0},
    many=_many,
)
