"""Self-referral: the lead or customer is the partner — same identity e-mail, phone,
payout instrument or sign-in device as the credited partner (full weight), or only
the same sign-in IP or network (half: a shared office or provider is possible)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from antifraud.signals._query import fingerprints
from antifraud.signals.base import Batch, Hit, batch_signal
from programs.services.normalize import email_key

STRONG = ("email", "phone", "payout", "device")
PAYOUT_KINDS = ("card", "iban", "wallet")


def _keys(obj: Any) -> dict[str, str]:
    return {
        "email": obj.email_key,
        "phone": getattr(obj, "phone", ""),
        "ip": obj.ip,
        "net": obj.net,
        "device": obj.device,
        "payout": getattr(obj, "payer", ""),
    }


def _many(batch: Batch, conf: dict[str, Any]) -> dict[Any, Hit]:
    prints = fingerprints(batch)
    out: dict[Any, Hit] = {}
    weight = int(conf["weight"])
    for obj in batch.objs:
        if not obj.partner_id:
            continue
        mine = dict(prints.get(obj.partner_id) or {})
        # The partner's current e-mail, even before any fingerprint was recorded.
        own = email_key(obj.partner.user.email)
        mine["email"] = set(mine.get("email", ())) | ({own} if own else set())
        matched = []
        for field, value in _keys(obj).items():
            if not value:
                continue
            kinds = PAYOUT_KINDS if field == "payout" else (field,)
            if any(value in mine.get(kind, ()) for kind in kinds):
                matched.append(field)
        if not matched:
            continue
        strong = [f for f in matched if f in STRONG]
        out[obj.pk] = Hit(
            points=weight if strong else weight // 2,
            params={"fields": ", ".join(matched)},
            evidence={"partner": str(obj.partner_id), "partner_fields": matched},
            match_key=f"{matched[0]}:{_keys(obj)[matched[0]]}"[:128],
        )
    return out


SELF_REFERRAL = batch_signal(
    code="self_referral",
    title=_("Partner referred themselves"),
    explanation=_("The customer matches the partner's own %(fields)s."),
    partner_reason=_("Referring yourself is not allowed."),
    subjects=("lead", "conversion"),
    defaults={"enabled": True, "weight": 60, "threshold": 1, "window_minutes": 0},
    help=_("A match on the sign-in IP address or network alone scores half the weight."),
    many=_many,
)
