"""Building blocks of the rewards tests: a program with partners, rules, conversions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from antifraud.services.scoring import score_conversions
from partners.models import PartnerProfile
from prm.models import Tenant
from prm.tenancy import tenant_scope
from programs.models import Conversion, Program
from programs.services.conversions import ConversionInput, conversion_record
from programs.services.enrollments import enrollment_create
from rewards.models import RewardRule
from rewards.services.accrual import accrue_conversion
from rewards.services.ledger import balance
from tests.factories import PartnerFactory, UserFactory

D = Decimal


def make_program(tenant: Tenant, **fields: object) -> Program:
    defaults: dict[str, object] = {
        "name": "Pro",
        "currency": "USD",
        "status": Program.Status.ACTIVE,
        "landing_urls": "https://shop.example.com/",
        "hold_days": 30,
    }
    return Program.objects.create(tenant=tenant, **{**defaults, **fields})


def make_partner(tenant: Tenant, program: Program, code: str, **fields: object) -> PartnerProfile:
    partner = PartnerFactory(
        tenant=tenant, user=UserFactory(email=f"{code.lower()}@example.test"), **fields
    )
    enrollment_create(tenant=tenant, program=program, partner=partner, code=code)
    return partner


def rule(program: Program, **fields: object) -> RewardRule:
    defaults: dict[str, object] = {
        "event": RewardRule.Event.CONVERSION,
        "kind": RewardRule.Kind.PERCENT,
        "value": D("20"),
    }
    return RewardRule.objects.create(
        tenant=program.tenant, program=program, **{**defaults, **fields}
    )


_orders = iter(range(1, 10**9))


def sale(
    program: Program,
    partner: PartnerProfile | None,
    amount: str = "100.00",
    *,
    currency: str | None = None,
    kind: str = Conversion.Kind.SALE,
    email: str = "",
    at: datetime | None = None,
    accrue: bool = True,
    score: bool = True,
) -> Conversion:
    conversion, _ = conversion_record(
        tenant=program.tenant,
        program=program,
        data=ConversionInput(
            external_id=f"order-{next(_orders)}",
            amount=D(amount),
            currency=currency or program.currency,
            kind=kind,
            customer_email=email,
            referral_code=partner.enrollments.get(program=program).code if partner else "",
            occurred_at=at or timezone.now(),
        ),
    )
    if accrue:
        accrue_conversion(conversion_id=str(conversion.pk))
    if score:
        # What the antifraud job does after commit: unscored rewards never approve.
        with tenant_scope(program.tenant):
            score_conversions([conversion.pk])
    return conversion


def pending(partner: PartnerProfile, currency: str = "USD") -> Decimal:
    return balance(partner, currency).pending


def available(partner: PartnerProfile, currency: str = "USD") -> Decimal:
    return balance(partner, currency).available
