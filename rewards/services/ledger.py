"""The ledger: the only place money moves, and the only source of balances."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum

from partners.models import PartnerProfile
from prm.models import Tenant, User
from programs.analytics.refresh import touch_now
from rewards.models import LedgerEntry

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Balance:
    currency: str
    pending: Decimal = ZERO
    available: Decimal = ZERO
    processing: Decimal = ZERO
    paid: Decimal = ZERO

    @property
    def earned(self) -> Decimal:
        return self.pending + self.available + self.processing + self.paid


def money(value: Decimal | float | int) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def post(
    *,
    tenant: Tenant,
    partner: PartnerProfile,
    currency: str,
    kind: str,
    key: str,
    pending: Decimal = ZERO,
    available: Decimal = ZERO,
    processing: Decimal = ZERO,
    paid: Decimal = ZERO,
    actor: User | None = None,
    fresh: bool = False,
    **links: Any,
) -> tuple[LedgerEntry, bool]:
    """Append one movement, idempotent on ``key`` (returns the first one again).
    ``fresh`` skips the look-up when the caller knows the key is new (its unique
    constraint still guards it)."""
    values = dict(
        tenant=tenant,
        partner=partner,
        currency=currency,
        kind=kind,
        key=key,
        pending=money(pending),
        available=money(available),
        processing=money(processing),
        paid=money(paid),
        actor=actor,
        **links,
    )
    if fresh:
        entry = LedgerEntry.objects.create(**values)
        touch_now(tenant, [partner.pk])
        return entry, True
    existing = LedgerEntry.objects.filter(key=key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            entry = LedgerEntry.objects.create(**values)
    except IntegrityError:
        return LedgerEntry.objects.get(key=key), False
    touch_now(tenant, [partner.pk])  # the day's rollup of this partner's money
    return entry, True


def balances(partner: PartnerProfile) -> dict[str, Balance]:
    """Every currency's balances of a partner, summed from the ledger."""
    rows = (
        LedgerEntry.objects.filter(partner=partner)
        .values("currency")
        .annotate(
            pending=Sum("pending"),
            available=Sum("available"),
            processing=Sum("processing"),
            paid=Sum("paid"),
        )
        .order_by("currency")
    )
    return {
        # Quantized: SQLite (the demo's database) sums decimals as floats.
        row["currency"]: Balance(
            currency=row["currency"],
            pending=money(row["pending"]),
            available=money(row["available"]),
            processing=money(row["processing"]),
            paid=money(row["paid"]),
        )
        for row in rows
    }


def balance(partner: PartnerProfile, currency: str) -> Balance:
    return balances(partner).get(currency, Balance(currency=currency))


def lock_partner(partner: PartnerProfile) -> PartnerProfile:
    """Serialise money movements of one partner (withdrawals, approvals, clawbacks).

    FOR NO KEY UPDATE, as every lock on a row others point at (partner, program, lead,
    conversion): it excludes the other money movements, yet lets a concurrent insert of
    a click, lead or conversion check its foreign key (FOR KEY SHARE) against the row.
    A plain FOR UPDATE made those checks wait at commit, and under load (bench/soak.py)
    two such transactions deadlocked."""
    return PartnerProfile.objects.select_for_update(no_key=True).get(pk=partner.pk)
