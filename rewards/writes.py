"""Audited saves of the console's plain records: reward and bonus rules, partner groups,
a program's money settings, exchange rates and payout methods.

Each is the row and its audit entry in one transaction; money itself only ever moves
through ``rewards.services``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models, transaction
from django.http import HttpRequest

from partners.models import PartnerProfile
from prm.audit import audit_record, snapshot
from prm.crypto import encrypt
from prm.models import Tenant, User
from rewards.models import ExchangeRate, PartnerGroup, PayoutMethod

M = TypeVar("M", bound=models.Model)

RULE_FIELDS = [
    "group",
    "partner",
    "event",
    "kind",
    "value",
    "recurring",
    "recurring_count",
    "min_order_amount",
    "new_customers_only",
    "cap_per_conversion",
    "cap_per_partner_month",
    "tiers",
    "referred_reward",
    "referred_value",
    "is_active",
]
BONUS_FIELDS = ["group", "metric", "threshold", "amount", "is_active"]
GROUP_FIELDS = ["name", "hold_days"]
PROGRAM_MONEY_FIELDS = ["hold_days", "levels", "level_percents", "reward_budget"]
RATE_FIELDS = ["base", "quote", "rate", "valid_from", "source"]
METHOD_FIELDS = [
    "kind",
    "name",
    "currency",
    "fee_fixed",
    "fee_percent",
    "minimum",
    "schedule",
    "provider",
    "provider_base_url",
    "provider_client_id",
    "is_active",
]


@transaction.atomic
def record_save(
    *,
    tenant: Tenant,
    actor: User,
    obj: M,
    fields: list[str],
    action: str,
    request: HttpRequest | None = None,
    extra: dict[str, Any] | None = None,
) -> M:
    """Create (an unsaved ``obj``) or update a tenant-owned row, audited as
    ``<action>.create`` or ``<action>.update`` with the fields that changed."""
    creating = obj._state.adding
    model = type(obj)
    before = {} if creating else snapshot(model.objects.get(pk=obj.pk), fields)  # type: ignore[attr-defined]
    obj.tenant = tenant  # type: ignore[attr-defined]
    obj.save()
    # Read back: the stored form (2 decimal places, say) is what the audit compares.
    after = snapshot(model.objects.get(pk=obj.pk), fields)  # type: ignore[attr-defined]
    changed = [k for k in fields if creating or before.get(k) != after.get(k)]
    audit_record(
        tenant=tenant,
        actor=actor,
        action=f"{action}.{'create' if creating else 'update'}",
        obj=obj,
        before={k: before[k] for k in changed if k in before},
        after={**{k: after[k] for k in changed}, **(extra or {})},
        request=request,
    )
    return obj


def method_save(
    *,
    tenant: Tenant,
    actor: User,
    method: PayoutMethod,
    secret: str = "",
    request: HttpRequest | None = None,
) -> PayoutMethod:
    """A payout method; a new provider secret is encrypted, and the audit says only
    that it changed."""
    extra = {}
    if secret:
        method.provider_secret_encrypted = encrypt(secret)
        extra["provider_secret"] = "changed"
    return record_save(
        tenant=tenant,
        actor=actor,
        obj=method,
        fields=METHOD_FIELDS,
        action="payout_method",
        request=request,
        extra=extra,
    )


@transaction.atomic
def rates_import(
    *,
    tenant: Tenant,
    actor: User,
    rates: list[ExchangeRate],
    request: HttpRequest | None = None,
) -> int:
    """All of a file's rates or none (the unique constraint guards a race)."""
    for rate in rates:
        rate.tenant = tenant
    ExchangeRate.objects.bulk_create(rates)
    audit_record(
        tenant=tenant,
        actor=actor,
        action="fx.import",
        object_type="exchangerate",
        after={
            "rates": len(rates),
            "pairs": sorted({f"{r.base}/{r.quote}" for r in rates}),
            "from": min(r.valid_from for r in rates).isoformat(),
            "to": max(r.valid_from for r in rates).isoformat(),
        },
        request=request,
    )
    return len(rates)


@transaction.atomic
def partner_set_group(
    *,
    tenant: Tenant,
    actor: User,
    partner: PartnerProfile,
    group: PartnerGroup | None,
    request: HttpRequest | None = None,
) -> PartnerProfile:
    partner = PartnerProfile.objects.select_for_update(no_key=True).get(pk=partner.pk)
    before = str(partner.group) if partner.group_id else None
    partner.group = group
    partner.save(update_fields=["group"])
    audit_record(
        tenant=tenant,
        actor=actor,
        action="partner.group",
        obj=partner,
        before={"group": before},
        after={"group": str(group) if group else None},
        request=request,
    )
    return partner
