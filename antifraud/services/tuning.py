"""Writes of the antifraud settings: thresholds, the amount cap, per-signal overrides."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from antifraud.config import settings_for
from antifraud.models import RiskSettings
from prm.audit import audit_record
from prm.models import Tenant, User

FIELDS = ["review_above", "reject_above", "amount_cap", "amount_cap_currency", "signals"]


def risk_settings_update(
    *,
    tenant: Tenant,
    actor: User,
    review_above: int,
    reject_above: int,
    amount_cap: Decimal | None,
    amount_cap_currency: str,
    signals: dict[str, dict[str, Any]],
    request: HttpRequest | None = None,
) -> RiskSettings:
    """Save the tenant's settings (``signals``: overrides only) and audit the change."""
    with transaction.atomic():
        settings_for(tenant)  # made on first use
        row = RiskSettings.objects.select_for_update().get()
        before = _snapshot(row)
        row.review_above = review_above
        row.reject_above = reject_above
        row.amount_cap = amount_cap
        row.amount_cap_currency = amount_cap_currency
        row.signals = signals
        row.save()
        after = _snapshot(row)
        if after != before:
            changed = [k for k in FIELDS if before[k] != after[k]]
            audit_record(
                tenant=tenant,
                actor=actor,
                action="antifraud.settings",
                obj=row,
                before={k: before[k] for k in changed},
                after={k: after[k] for k in changed},
                request=request,
            )
    return row


def _snapshot(row: RiskSettings) -> dict[str, Any]:
    return {
        "review_above": row.review_above,
        "reject_above": row.reject_above,
        "amount_cap": str(row.amount_cap) if row.amount_cap is not None else None,
        "amount_cap_currency": row.amount_cap_currency,
        "signals": row.signals,
    }
