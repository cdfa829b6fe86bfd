"""The ``data`` of each event: the object as it is at the moment of the change.

Ids are strings, amounts decimal strings, times ISO 8601 in UTC. Builders read only
fields the caller already has (and a partner's e-mail), and run only when some
endpoint listens to the event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any


def _id(value: Any) -> str | None:
    return str(value) if value is not None else None


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def _money(value: Any) -> str | None:
    return None if value is None else str(value)


def partner(p: Any, **_: Any) -> dict[str, Any]:
    user = getattr(p, "user", None)
    return {
        "object": "partner",
        "id": _id(p.pk),
        "email": getattr(user, "email", "") if p.erased_at is None else "",
        "name": p.display_name,
        "company": p.company,
        "status": str(p.status),
        "group": _id(p.group_id),
        "recruited_by": _id(p.recruited_by_id),
        "created_at": _time(p.created_at),
    }


def partner_status(p: Any, *, previous_status: str = "", reason: str = "", **_: Any) -> dict:
    return {**partner(p), "previous_status": previous_status, "reason": reason[:300]}


def lead(x: Any, *, previous_status: str = "", **_: Any) -> dict[str, Any]:
    data = {
        "object": "lead",
        "id": _id(x.pk),
        "program": _id(x.program_id),
        "partner": _id(x.partner_id),
        "status": str(x.status),
        "source": str(x.source),
        "name": x.name,
        "email": x.email,
        "phone": x.phone,
        "company": x.company,
        "external_id": x.external_id,
        "duplicate_of": _id(x.duplicate_of_id),
        "created_at": _time(x.created_at),
    }
    if previous_status:
        data["previous_status"] = previous_status
    return data


def conversion(c: Any, *, refund: Any = None, **_: Any) -> dict[str, Any]:
    data = {
        "object": "conversion",
        "id": _id(c.pk),
        "program": _id(c.program_id),
        "order_id": c.external_id,
        "kind": str(c.kind),
        "status": str(c.status),
        "amount": _money(c.amount),
        "currency": c.currency,
        "refunded_amount": _money(c.refunded_amount),
        "partner": _id(c.partner_id),
        "lead": _id(c.lead_id),
        "customer_id": c.customer_external_id,
        "promo_code": c.promo_code,
        "occurred_at": _time(c.occurred_at),
    }
    if refund is not None:
        data["refund"] = {
            "id": _id(refund.pk),
            "refund_id": refund.external_id,
            "amount": _money(refund.amount),
            "reason": refund.reason,
        }
    return data


def _reward(status: str) -> Callable[..., dict[str, Any]]:
    def build(r: Any, **_: Any) -> dict[str, Any]:
        return {
            "object": "reward",
            "id": _id(r.pk),
            "partner": _id(r.partner_id),
            "program": _id(r.program_id),
            "conversion": _id(r.conversion_id),
            "lead": _id(r.lead_id),
            "kind": str(r.kind),
            "level": r.level,
            "amount": _money(r.amount),
            "currency": r.currency,
            "status": status,
            "available_at": _time(getattr(r, "available_at", None)),
            "reason": (r.reason or "") if status == "rejected" else "",
        }

    return build


def _payout(status: str) -> Callable[..., dict[str, Any]]:
    def build(p: Any, **_: Any) -> dict[str, Any]:
        return {
            "object": "payout",
            "id": _id(p.pk),
            "partner": _id(p.partner_id),
            "method": _id(p.method_id),
            "amount": _money(p.amount),
            "fee": _money(p.fee),
            "currency": p.currency,
            "status": status,
            "scheduled": bool(p.scheduled),
            "created_at": _time(p.created_at),
            "paid_at": _time(p.paid_at),
            "provider_ref": p.provider_ref or "",
        }

    return build


BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "partner.created": partner,
    "partner.approved": partner_status,
    "partner.blocked": partner_status,
    "lead.created": lead,
    "lead.status_changed": lead,
    "conversion.created": conversion,
    "conversion.refunded": conversion,
    "reward.created": _reward("pending"),
    "reward.approved": _reward("approved"),
    "reward.rejected": _reward("rejected"),
    "payout.requested": _payout("requested"),
    "payout.paid": _payout("paid"),
}
