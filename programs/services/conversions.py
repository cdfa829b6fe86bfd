"""Writes to conversions: recording (idempotent on the order id) and refunds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from antifraud.jobs import enqueue_scoring
from prm.jobs import job_enqueue
from prm.models import Tenant
from prm.webhooks.events import emit as webhook_emit
from programs.analytics.refresh import touch_conversion
from programs.models import Conversion, Lead, LeadEvent, Program, Refund
from programs.services.attribution import attribute
from programs.services.clicks import clicks_flush
from programs.services.normalize import email_key, normalize_email
from programs.services.trace import capture

REFUND_TOO_LARGE = _("The refund is larger than what is left of the conversion.")
ORDER_ID_REUSED = _("This order id was already used with a different amount or currency.")


@dataclass
class ConversionInput:
    external_id: str
    amount: Decimal
    currency: str
    kind: str = Conversion.Kind.SALE
    customer_email: str = ""
    customer_external_id: str = ""
    customer_phone: str = ""  # E.164, as leads keep it
    visitor_id: str = ""
    promo_code: str = ""
    referral_code: str = ""
    occurred_at: datetime | None = None
    # The customer's request, passed by the client's server (API) or a CRM that has it.
    ip: str = ""
    user_agent: str = ""
    payer: str = ""  # programs.services.trace.payer_key of the payment instrument


def conversion_record(
    *, tenant: Tenant, program: Program, data: ConversionInput
) -> tuple[Conversion, bool]:
    """Record a conversion; the same order id again returns the first one (created=False)."""
    existing = Conversion.objects.filter(program=program, external_id=data.external_id).first()
    if existing is not None:
        return _same_or_conflict(existing, data), False
    _check_rate(program, data)
    if data.visitor_id:
        clicks_flush()  # the visitor's latest clicks may still be in the Redis buffer
    try:
        with transaction.atomic():
            return _create(tenant, program, data), True
    except IntegrityError:
        # A concurrent request with the same order id won the race.
        existing = Conversion.objects.get(program=program, external_id=data.external_id)
        return _same_or_conflict(existing, data), False


def _check_rate(program: Program, data: ConversionInput) -> None:
    """Refuse a conversion whose currency has no rate to the program's yet: accepting it
    would leave its rewards to a job that fails until someone adds the rate."""
    if data.currency == program.currency or data.amount <= 0:
        return
    from rewards.services import fx  # rewards builds on programs, not the reverse

    day = (data.occurred_at or timezone.now()).date()
    fx.convert(Decimal(1), data.currency, program.currency, day)  # raises when no rate


def _same_or_conflict(existing: Conversion, data: ConversionInput) -> Conversion:
    if existing.amount != data.amount or existing.currency != data.currency:
        raise ValidationError(ORDER_ID_REUSED, code="conflict")
    return existing


def _create(tenant: Tenant, program: Program, data: ConversionInput) -> Conversion:
    at = data.occurred_at or timezone.now()
    email = normalize_email(data.customer_email)
    result = attribute(
        program=program,
        at=at,
        promo_code=data.promo_code,
        email=email,
        phone=data.customer_phone,
        external_id=data.customer_external_id,
        visitor_id=data.visitor_id,
        cookie_code=data.referral_code,
    )
    conversion = Conversion.objects.create(
        tenant=tenant,
        program=program,
        partner=result.partner,
        lead=result.lead,
        external_id=data.external_id,
        kind=data.kind,
        status=Conversion.Status.ATTRIBUTED if result.partner else Conversion.Status.UNATTRIBUTED,
        amount=data.amount,
        currency=data.currency,
        customer_email=email,
        customer_external_id=data.customer_external_id,
        visitor_id=data.visitor_id,
        promo_code=data.promo_code,
        attribution=result.trail(),
        occurred_at=at,
        email_key=email_key(email),
        payer=data.payer[:48],
        **capture(data.ip, data.user_agent, tenant.click_ip_mode).fields(),
    )
    enqueue_scoring(tenant=tenant, conversions=[conversion.pk])
    # Rewards are computed by a job after commit (idempotent per conversion).
    job_enqueue(
        "rewards.services.accrual.accrue_conversion",
        tenant=tenant,
        conversion_id=str(conversion.pk),
    )
    lead = result.lead
    if lead is not None and lead.status != Lead.Status.CONVERTED:
        old = lead.status
        Lead.objects.filter(pk=lead.pk).update(
            status=Lead.Status.CONVERTED, updated_at=timezone.now()
        )
        LeadEvent.objects.create(
            tenant=tenant,
            lead=lead,
            kind=LeadEvent.Kind.STATUS,
            old_value=old,
            new_value="converted",
            text=f"order {conversion.external_id}",
        )
        lead.status = Lead.Status.CONVERTED
        webhook_emit(tenant, "lead.status_changed", [lead], previous_status=old)
    touch_conversion(tenant, conversion, lead)
    webhook_emit(tenant, "conversion.created", [conversion])
    return conversion


@transaction.atomic
def conversion_amount_from_zero(
    *, tenant: Tenant, conversion: Conversion, amount: Decimal, currency: str, why: str
) -> bool:
    """A conversion recorded at 0.00 takes the amount of the sale it stands for, once:
    only while it is 0.00, unrefunded and unrewarded (a 0.00 sale earns nothing), so no
    money already moved is rewritten. Its rewards are then computed as for any
    conversion. Used for CRM wins recorded before their amount was known (a deal won
    with no amount yet; Bitrix24 leads converted into deals, once taken for sales)."""
    conversion = Conversion.objects.select_for_update(no_key=True).get(pk=conversion.pk)
    amount = amount.quantize(Decimal("0.01"))
    if (
        amount <= 0
        or conversion.amount != 0
        or conversion.refunded_amount
        or conversion.rewards.exists()
    ):
        return False
    data = ConversionInput(
        external_id=conversion.external_id,
        amount=amount,
        currency=currency,
        occurred_at=conversion.occurred_at,
    )
    _check_rate(conversion.program, data)
    conversion.amount, conversion.currency = amount, currency
    conversion.save(update_fields=["amount", "currency"])
    if conversion.lead_id:
        LeadEvent.objects.create(
            tenant=tenant,
            lead_id=conversion.lead_id,
            kind=LeadEvent.Kind.NOTE,
            text=f"order {conversion.external_id}: 0.00 → {amount} {currency} ({why})",
        )
    enqueue_scoring(tenant=tenant, conversions=[conversion.pk])
    job_enqueue(
        "rewards.services.accrual.accrue_conversion",
        tenant=tenant,
        conversion_id=str(conversion.pk),
    )
    touch_conversion(tenant, conversion, conversion.lead)
    return True


@transaction.atomic
def refund_record(
    *,
    tenant: Tenant,
    conversion: Conversion,
    external_id: str,
    amount: Decimal | None,
    reason: str = "",
) -> tuple[Refund, bool]:
    """A full (amount None) or partial refund, idempotent on ``external_id``."""
    conversion = Conversion.objects.select_for_update(no_key=True).get(pk=conversion.pk)
    existing = Refund.objects.filter(conversion=conversion, external_id=external_id).first()
    if existing is not None:
        return existing, False
    remaining = conversion.amount - conversion.refunded_amount
    amount = remaining if amount is None else amount
    if amount <= 0 or amount > remaining:
        raise ValidationError(REFUND_TOO_LARGE, code="refund")
    refund = Refund.objects.create(
        tenant=tenant,
        conversion=conversion,
        external_id=external_id,
        amount=amount,
        reason=reason[:200],
    )
    conversion.refunded_amount += amount
    if conversion.refunded_amount == conversion.amount:
        conversion.status = Conversion.Status.REFUNDED
    conversion.save(update_fields=["refunded_amount", "status"])
    job_enqueue(
        "rewards.services.approvals.clawback_refund", tenant=tenant, refund_id=str(refund.pk)
    )
    # A refund changes the partner's record (and the conversion's amounts).
    enqueue_scoring(
        tenant=tenant,
        conversions=[conversion.pk],
        partners=[conversion.partner_id] if conversion.partner_id else [],
    )
    touch_conversion(tenant, conversion, conversion.lead)
    webhook_emit(tenant, "conversion.refunded", [conversion], refund=refund)
    return refund, True
