"""Withdrawals: request, approve, reject, pay (by hand or through a provider)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.models import PartnerProfile
from prm.audit import audit_record
from prm.models import Tenant, User
from prm.notifications import events
from prm.notifications.kinds import Kind
from prm.notifications.services import batching
from prm.tenancy import tenant_scope
from prm.webhooks.events import batching as webhook_batching
from prm.webhooks.events import emit as webhook_emit
from rewards.models import LedgerEntry, PayoutBatch, PayoutDetails, PayoutMethod, PayoutRequest
from rewards.services.ledger import ZERO, balance, lock_partner, money, post
from rewards.signals import ledger_moved

NO_DETAILS = _("Add your payout details for this method first.")
BELOW_MINIMUM = _("The minimum payout for this method is %(minimum)s %(currency)s.")
OVER_BALANCE = _("You can withdraw at most %(available)s %(currency)s.")
WRONG_STATUS = _("This payout is no longer %(status)s.")
METHOD_INACTIVE = _("This payout method is not available.")
PARTNER_INACTIVE = _("Only active partners can withdraw.")
AMOUNT_POSITIVE = _("Enter an amount above zero.")
FEE_EATS_ALL = _("The fee would take the whole amount: withdraw more.")


def payout_request(
    *,
    tenant: Tenant,
    partner: PartnerProfile,
    method: PayoutMethod,
    amount: Decimal,
    scheduled: bool = False,
) -> PayoutRequest:
    """Move ``amount`` of the available balance into a payout. Locks the partner, so
    parallel requests see each other's entries and can never overdraw."""
    if not method.is_active:
        raise ValidationError(METHOD_INACTIVE)
    if partner.status != PartnerProfile.Status.ACTIVE:
        raise ValidationError(PARTNER_INACTIVE)
    from partners.training.gates import gate_message, missing_for_payout

    missing = missing_for_payout(partner)
    if missing:  # a course of the partner's audience must be passed first
        raise ValidationError(gate_message(missing, payout=True), code="training")
    if amount <= 0:
        raise ValidationError(AMOUNT_POSITIVE)
    details = PayoutDetails.objects.filter(partner=partner, method=method).first()
    if details is None:
        raise ValidationError(NO_DETAILS)
    with transaction.atomic():
        lock_partner(partner)
        available = balance(partner, method.currency).available
        if amount < method.minimum:
            raise ValidationError(
                BELOW_MINIMUM, params={"minimum": method.minimum, "currency": method.currency}
            )
        if amount > available:
            raise ValidationError(
                OVER_BALANCE,
                params={"available": max(available, ZERO), "currency": method.currency},
            )
        if method.fee_for(amount) >= amount:
            raise ValidationError(FEE_EATS_ALL)
        payout = PayoutRequest.objects.create(
            tenant=tenant,
            partner=partner,
            method=method,
            details_masked=details.masked,
            details_encrypted=details.encrypted,
            currency=method.currency,
            amount=amount,
            fee=method.fee_for(amount),
            scheduled=scheduled,
        )
        post(
            tenant=tenant,
            partner=partner,
            currency=method.currency,
            kind=LedgerEntry.Kind.PAYOUT,
            key=f"payout:{payout.pk}",
            available=-amount,
            processing=amount,
            payout=payout,
        )
        events.payouts_requested(tenant=tenant, payouts=[payout])
        webhook_emit(tenant, "payout.requested", [payout])
    return payout


def _transition(payout: PayoutRequest, old: list[str], new: str, **fields: object) -> None:
    updated = PayoutRequest.objects.filter(pk=payout.pk, status__in=old).update(
        status=new, **fields
    )
    if not updated:
        raise ValidationError(WRONG_STATUS, params={"status": "/".join(old)})


def payout_approve(*, payout: PayoutRequest, actor: User) -> PayoutRequest:
    with transaction.atomic():
        _transition(
            payout,
            [PayoutRequest.Status.REQUESTED],
            PayoutRequest.Status.APPROVED,
            decided_at=timezone.now(),
        )
        audit_record(
            tenant=payout.tenant,
            actor=actor,
            action="payout.approve",
            obj=payout,
            before={"status": "requested"},
            after={"status": "approved"},
        )
        events.payout_decided(payout=payout, kind=Kind.PAYOUT_APPROVED)
    payout.refresh_from_db()
    return payout


def payout_reject(
    *, payout: PayoutRequest, actor: User | None, reason: str, failed: bool = False
) -> PayoutRequest:
    """Reject (or, from a provider, fail) a payout: the money returns to available."""
    if not reason.strip():
        raise ValidationError(_("Give a reason the partner will see."))
    new = PayoutRequest.Status.FAILED if failed else PayoutRequest.Status.REJECTED
    with transaction.atomic():
        lock_partner(payout.partner)
        old = payout.status
        _transition(
            payout,
            [PayoutRequest.Status.REQUESTED, PayoutRequest.Status.APPROVED],
            new,
            reason=reason[:300],
            decided_at=timezone.now(),
        )
        post(
            tenant=payout.tenant,
            partner=payout.partner,
            currency=payout.currency,
            kind=LedgerEntry.Kind.PAYOUT_RETURN,
            key=f"payout_return:{payout.pk}",
            available=payout.amount,
            processing=-payout.amount,
            payout=payout,
            actor=actor,
            memo=reason[:300],
        )
        if actor is not None:
            audit_record(
                tenant=payout.tenant,
                actor=actor,
                action=f"payout.{new}",
                obj=payout,
                before={"status": old},
                after={"status": new, "reason": reason},
            )
        payout.reason = reason[:300]
        events.payout_decided(payout=payout, kind=Kind.PAYOUT_RETURNED)
    payout.refresh_from_db()
    return payout


def payout_mark_paid(
    *, payout: PayoutRequest, actor: User | None, provider_ref: str = ""
) -> PayoutRequest:
    """Paid: the fee and the net amount leave processing; net goes to paid. Twice is
    refused (the status guard), so a payout is never paid twice."""
    with transaction.atomic():
        lock_partner(payout.partner)
        _transition(
            payout,
            [PayoutRequest.Status.APPROVED],
            PayoutRequest.Status.PAID,
            paid_at=timezone.now(),
            provider_ref=provider_ref[:120],
        )
        if payout.fee > 0:
            post(
                tenant=payout.tenant,
                partner=payout.partner,
                currency=payout.currency,
                kind=LedgerEntry.Kind.FEE,
                key=f"payout_fee:{payout.pk}",
                processing=-payout.fee,
                payout=payout,
                actor=actor,
                memo=f"{payout.method.name} fee",
            )
        post(
            tenant=payout.tenant,
            partner=payout.partner,
            currency=payout.currency,
            kind=LedgerEntry.Kind.PAYOUT_PAID,
            key=f"payout_paid:{payout.pk}",
            processing=-(payout.amount - payout.fee),
            paid=payout.amount - payout.fee,
            payout=payout,
            actor=actor,
        )
        if actor is not None:
            audit_record(
                tenant=payout.tenant,
                actor=actor,
                action="payout.paid",
                obj=payout,
                before={"status": "approved"},
                after={"status": "paid"},
            )
        events.payout_decided(payout=payout, kind=Kind.PAYOUT_PAID)
        payout.paid_at = payout.paid_at or timezone.now()
        webhook_emit(payout.tenant, "payout.paid", [payout])
    payout.refresh_from_db()
    return payout


def is_schedule_day(schedule: str, day: date) -> bool:
    if schedule == PayoutMethod.Schedule.MONTHLY:
        return day.day == 1
    if schedule == PayoutMethod.Schedule.BIWEEKLY:
        return day.day in (1, 15)
    return False


def scheduled_payouts(*, today: date | None = None, batch: int = 1000) -> int:
    """Periodic (daily): on schedule days, request a payout of every balance above the
    method's minimum for partners who have details for it, ``batch`` partners a
    transaction (see ``scheduled_batch``)."""
    today = today or timezone.localdate()
    created = 0
    # Methods of every tenant, each handled in its tenant's scope.
    methods = PayoutMethod.all_tenants_unscoped.select_related("tenant").filter(
        is_active=True, schedule__in=[PayoutMethod.Schedule.MONTHLY, PayoutMethod.Schedule.BIWEEKLY]
    )
    for method in methods:
        if not is_schedule_day(method.schedule, today):
            continue
        # One e-mail per finance member for the day's run, not one per batch.
        with tenant_scope(method.tenant), batching(), webhook_batching():
            details = list(
                PayoutDetails.objects.filter(
                    method=method, partner__status=PartnerProfile.Status.ACTIVE
                ).order_by("partner_id")
            )
            for start in range(0, len(details), batch):
                created += scheduled_batch(
                    method=method, details=details[start : start + batch], today=today
                )
    return created


def scheduled_batch(*, method: PayoutMethod, details: list[PayoutDetails], today: date) -> int:
    """``payout_request`` of the whole available balance for each of ``details``'
    partners, in one transaction and a fixed number of statements: partners locked in
    one statement (by primary key), balances summed in one query, multi-row inserts of
    the payouts and their ledger entries. Partners already paid by the schedule today,
    or below the minimum, or whose fee would take it all, are skipped."""
    tenant = method.tenant
    partner_ids = [d.partner_id for d in details]
    with transaction.atomic():
        list(
            PartnerProfile.objects.select_for_update(no_key=True)
            .filter(pk__in=partner_ids, status=PartnerProfile.Status.ACTIVE)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        available = dict(
            LedgerEntry.objects.filter(partner_id__in=partner_ids, currency=method.currency)
            .values("partner_id")
            .annotate(total=Sum("available"))
            .values_list("partner_id", "total")
        )
        already = set(
            PayoutRequest.objects.filter(
                partner_id__in=partner_ids, method=method, scheduled=True, created_at__date=today
            ).values_list("partner_id", flat=True)
        )
        from partners.training.gates import blocked_from_payouts

        already |= blocked_from_payouts(partner_ids)  # a payout-gating course not passed
        payouts, entries = [], []
        for d in details:
            amount = money(available.get(d.partner_id) or ZERO)
            if d.partner_id in already or amount < max(method.minimum, Decimal("0.01")):
                continue
            fee = method.fee_for(amount)
            if fee >= amount:
                continue  # as payout_request refuses it (FEE_EATS_ALL)
            payout = PayoutRequest(
                tenant=tenant,
                partner_id=d.partner_id,
                method=method,
                details_masked=d.masked,
                details_encrypted=d.encrypted,
                currency=method.currency,
                amount=amount,
                fee=fee,
                scheduled=True,
            )
            payouts.append(payout)
            already.add(d.partner_id)  # one a day, even with two sets of details
            entries.append(
                LedgerEntry(
                    tenant=tenant,
                    partner_id=d.partner_id,
                    currency=method.currency,
                    kind=LedgerEntry.Kind.PAYOUT,
                    key=f"payout:{payout.pk}",
                    pending=ZERO,
                    available=-amount,
                    processing=amount,
                    paid=ZERO,
                    payout=payout,
                )
            )
        PayoutRequest.objects.bulk_create(payouts)
        LedgerEntry.objects.bulk_create(entries)
        ledger_moved.send(
            sender=LedgerEntry,
            tenant_id=tenant.pk,
            partner_ids=sorted({e.partner_id for e in entries}),
        )
        events.payouts_requested(tenant=tenant, payouts=payouts)
        webhook_emit(tenant, "payout.requested", payouts)
    return len(payouts)


def batch_create(*, tenant: Tenant, method: PayoutMethod, actor: User) -> PayoutBatch | None:
    """Put every approved, unbatched payout of ``method`` into a new batch."""
    with transaction.atomic():
        payouts = list(
            PayoutRequest.objects.select_for_update().filter(
                method=method, status=PayoutRequest.Status.APPROVED, batch__isnull=True
            )
        )
        if not payouts:
            return None
        batch = PayoutBatch.objects.create(tenant=tenant, method=method, created_by=actor)
        PayoutRequest.objects.filter(pk__in=[p.pk for p in payouts]).update(batch=batch)
        audit_record(
            tenant=tenant,
            actor=actor,
            action="payout.batch",
            obj=batch,
            after={"payouts": len(payouts), "method": method.name},
        )
    return batch
