"""Building blocks of the antifraud tests: a program with partners, leads and sales
made through the real services, and scoring as the job does it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from antifraud.models import RiskAssessment
from antifraud.services.scoring import score_conversions, score_leads, score_partners
from partners.models import PartnerProfile
from programs.models import Click, Conversion, Lead, Program
from programs.services.conversions import ConversionInput, conversion_record
from programs.services.leads import LeadInput, lead_create
from rewards.models import RewardRule
from tests.rewards.helpers import make_partner, make_program

D = Decimal
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
_n = iter(range(1, 10**9))


def make_world(tenant: Any) -> tuple[Program, PartnerProfile]:
    program = make_program(tenant)
    RewardRule.objects.create(
        tenant=tenant,
        program=program,
        event=RewardRule.Event.CONVERSION,
        kind=RewardRule.Kind.PERCENT,
        value=D("20"),
    )
    RewardRule.objects.create(
        tenant=tenant,
        program=program,
        event=RewardRule.Event.LEAD,
        kind=RewardRule.Kind.FIXED,
        value=D("5"),
    )
    return program, make_partner(tenant, program, "ALICE")


def code_of(partner: PartnerProfile | None, program: Program) -> str:
    return partner.enrollments.get(program=program).code if partner else ""


def lead(
    program: Program,
    partner: PartnerProfile | None = None,
    *,
    email: str = "",
    phone: str = "",
    ip: str = "",
    ua: str = UA,
    visitor: str = "",
    source: str = Lead.Source.API,
    at: datetime | None = None,
) -> Lead:
    made = lead_create(
        tenant=program.tenant,
        program=program,
        source=source,
        partner=partner if source == Lead.Source.CABINET else None,
        data=LeadInput(
            email=email or f"customer{next(_n)}@example.com",
            phone=phone,
            visitor_id=visitor,
            referral_code=code_of(partner, program) if source != Lead.Source.CABINET else "",
            ip=ip,
            user_agent=ua if ip else "",
        ),
    )
    if at is not None:
        Lead.objects.filter(pk=made.pk).update(created_at=at)
        made.refresh_from_db()
    return made


def sale(
    program: Program,
    partner: PartnerProfile | None = None,
    amount: str = "100.00",
    *,
    email: str = "",
    ip: str = "",
    ua: str = UA,
    visitor: str = "",
    payer: str = "",
    currency: str = "USD",
    at: datetime | None = None,
) -> Conversion:
    made, _ = conversion_record(
        tenant=program.tenant,
        program=program,
        data=ConversionInput(
            external_id=f"order-{next(_n)}",
            amount=D(amount),
            currency=currency,
            customer_email=email or f"buyer{next(_n)}@example.com",
            referral_code=code_of(partner, program),
            visitor_id=visitor,
            ip=ip,
            user_agent=ua if ip else "",
            payer=payer,
            occurred_at=at or timezone.now(),
        ),
    )
    if at is not None:
        Conversion.objects.filter(pk=made.pk).update(created_at=at)
        made.refresh_from_db()
    return made


def click(
    program: Program,
    partner: PartnerProfile,
    *,
    visitor: str,
    at: datetime | None = None,
    referrer: str = "https://blog.example.org/post",
    url: str = "https://shop.example.com/",
    ip: str = "198.51.100.0",
) -> Click:
    from programs.services.clicks import paid_click_id

    enrollment = partner.enrollments.get(program=program)
    return Click.objects.create(
        tenant=program.tenant,
        ingest_id=f"t-{next(_n)}",
        program=program,
        enrollment=enrollment,
        partner=partner,
        code=enrollment.code,
        visitor_id=visitor,
        landing_url=url,
        referrer=referrer,
        paid_click=paid_click_id(url),
        ip=ip,
        created_at=at or timezone.now(),
    )


def assess(obj: Any) -> RiskAssessment | None:
    """Score ``obj`` as the job does and return its stored assessment."""
    if isinstance(obj, Lead):
        score_leads([obj.pk])
        return RiskAssessment.objects.filter(subject="lead", lead=obj).first()
    if isinstance(obj, Conversion):
        score_conversions([obj.pk])
        return RiskAssessment.objects.filter(subject="conversion", conversion=obj).first()
    score_partners([obj.pk])
    return RiskAssessment.objects.filter(subject="partner", partner=obj).first()


def codes(obj: Any) -> set[str]:
    """The signals that fired for ``obj`` (scoring it first)."""
    found = assess(obj)
    return set(found.signals.values_list("code", flat=True)) if found else set()
