"""Guard rails on manual corrections and penalties: above one tenant-set amount the
console asks to confirm (showing the balance before and after); above a second one a
second staff member must approve (four eyes). Both steps are audited."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.models import PartnerProfile
from prm.audit import audit_record
from prm.models import Tenant, User
from rewards.models import CorrectionRequest, LedgerEntry
from rewards.services.approvals import NEEDS_REASON, ledger_adjust

SAME_PERSON = _("A second staff member must approve a correction you asked for.")
NOT_WAITING = _("This correction was already decided.")


def signed_amount(kind: str, amount: Decimal) -> Decimal:
    """A penalty is always taken off; an adjustment keeps its sign."""
    return -abs(amount) if kind == LedgerEntry.Kind.PENALTY else amount


def needs_confirmation(tenant: Tenant, amount: Decimal) -> bool:
    limit = tenant.correction_confirm_above
    return limit is not None and abs(amount) > limit


def needs_second_approval(tenant: Tenant, amount: Decimal) -> bool:
    limit = tenant.correction_second_approval_above
    return limit is not None and abs(amount) > limit


def correction_submit(
    *,
    tenant: Tenant,
    partner: PartnerProfile,
    currency: str,
    amount: Decimal,
    kind: str,
    reason: str,
    actor: User,
    key: str,
) -> LedgerEntry | CorrectionRequest:
    """Post the correction, or file it for a second approval when it is that large."""
    if not needs_second_approval(tenant, amount):
        return ledger_adjust(
            tenant=tenant,
            partner=partner,
            currency=currency,
            amount=amount,
            kind=kind,
            reason=reason,
            actor=actor,
            key=key,
        )
    if not reason.strip():
        raise ValidationError(NEEDS_REASON)
    existing = CorrectionRequest.objects.filter(key=key).first()
    if existing is not None:  # the same form sent twice
        return existing
    try:
        with transaction.atomic():
            request = CorrectionRequest.objects.create(
                tenant=tenant,
                key=key,
                partner=partner,
                kind=kind,
                currency=currency,
                amount=signed_amount(kind, amount),
                reason=reason[:300],
                requested_by=actor,
            )
            audit_record(
                tenant=tenant,
                actor=actor,
                action="ledger.correction_requested",
                obj=partner,
                after={"amount": str(request.amount), "currency": currency, "reason": reason},
            )
    except IntegrityError:
        return CorrectionRequest.objects.get(key=key)
    return request


def correction_approve(*, request: CorrectionRequest, actor: User) -> LedgerEntry:
    """The second person's yes: the entry is posted with them as its actor."""
    if request.requested_by_id == actor.pk:
        raise ValidationError(SAME_PERSON)
    with transaction.atomic():
        updated = CorrectionRequest.objects.filter(
            pk=request.pk, status=CorrectionRequest.Status.PENDING
        ).update(
            status=CorrectionRequest.Status.APPROVED, decided_by=actor, decided_at=timezone.now()
        )
        if not updated:
            raise ValidationError(NOT_WAITING)
        entry = ledger_adjust(
            tenant=request.tenant,
            partner=request.partner,
            currency=request.currency,
            amount=request.amount,
            kind=request.kind,
            reason=request.reason,
            actor=actor,
            key=request.key,
        )
        CorrectionRequest.objects.filter(pk=request.pk).update(entry=entry)
        audit_record(
            tenant=request.tenant,
            actor=actor,
            action="ledger.correction_approved",
            obj=request.partner,
            after={
                "amount": str(request.amount),
                "currency": request.currency,
                "requested_by": request.requested_by.email,
            },
        )
    return entry


def correction_reject(*, request: CorrectionRequest, actor: User, note: str = "") -> None:
    """Either person may withdraw or turn down a waiting correction."""
    with transaction.atomic():
        updated = CorrectionRequest.objects.filter(
            pk=request.pk, status=CorrectionRequest.Status.PENDING
        ).update(
            status=CorrectionRequest.Status.REJECTED,
            decided_by=actor,
            decided_at=timezone.now(),
            decision_note=note[:300],
        )
        if not updated:
            raise ValidationError(NOT_WAITING)
        audit_record(
            tenant=request.tenant,
            actor=actor,
            action="ledger.correction_rejected",
            obj=request.partner,
            after={"amount": str(request.amount), "currency": request.currency, "note": note},
        )
