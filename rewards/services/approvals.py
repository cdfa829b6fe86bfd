"""Holds, approvals, rejections, clawbacks and manual corrections."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.models import PartnerProfile
from prm.audit import audit_record
from prm.models import Tenant, User
from prm.notifications import events
from prm.notifications.services import batching
from prm.tenancy import tenant_scope
from prm.webhooks.events import batching as webhook_batching
from prm.webhooks.events import emit as webhook_emit
from programs.analytics.refresh import touch_now
from programs.models import Conversion, Refund
from rewards.models import LedgerEntry, ProgramBudget, Reward
from rewards.services.ledger import ZERO, lock_partner, money, post
from rewards.signals import ledger_moved, rewards_changed

NOT_PENDING = _("Only rewards on hold can be approved or rejected.")
REFUNDED = _("The purchase was refunded.")
NEEDS_REASON = _("Give a reason the partner will see.")


def remaining(reward: Reward) -> Decimal:
    """What is left of a reward after clawbacks."""
    clawed = LedgerEntry.objects.filter(reward=reward, kind=LedgerEntry.Kind.CLAWBACK).aggregate(
        p=Sum("pending"), a=Sum("available")
    )
    return money(reward.amount + (clawed["p"] or ZERO) + (clawed["a"] or ZERO))


def reward_approve(*, reward: Reward, actor: User | None = None, reason: str = "") -> Reward:
    with transaction.atomic():
        lock_partner(reward.partner)
        left = remaining(reward)
        if left <= 0:
            return _reject_locked(reward, actor, str(REFUNDED))
        updated = Reward.objects.filter(pk=reward.pk, status=Reward.Status.PENDING).update(
            status=Reward.Status.APPROVED, decided_at=timezone.now(), reason=reason[:300]
        )
        if not updated:
            raise ValidationError(NOT_PENDING)
        post(
            fresh=True,  # the conditional update above lets one approval through
            tenant=reward.tenant,
            partner=reward.partner,
            currency=reward.currency,
            kind=LedgerEntry.Kind.APPROVAL,
            key=f"approval:{reward.pk}",
            pending=-left,
            available=left,
            reward=reward,
            actor=actor,
            memo=reason[:300],
        )
        reward.reason = reason[:300]
        events.rewards_approved(tenant=reward.tenant, rewards=[reward])
        webhook_emit(reward.tenant, "reward.approved", [reward])
        if actor is not None:
            audit_record(
                tenant=reward.tenant,
                actor=actor,
                action="reward.approve",
                obj=reward,
                after={"amount": str(left), "reason": reason},
            )
    reward.status = Reward.Status.APPROVED
    reward.reason = reason[:300]
    return reward


def reward_reject(*, reward: Reward, actor: User | None, reason: str) -> Reward:
    if not reason.strip():
        raise ValidationError(NEEDS_REASON)
    with transaction.atomic():
        lock_partner(reward.partner)
        _reject_locked(reward, actor, reason)
        if actor is not None:
            audit_record(
                tenant=reward.tenant,
                actor=actor,
                action="reward.reject",
                obj=reward,
                after={"reason": reason},
            )
    reward.refresh_from_db()
    return reward


def _reject_locked(reward: Reward, actor: User | None, reason: str) -> Reward:
    left = remaining(reward)
    updated = Reward.objects.filter(pk=reward.pk, status=Reward.Status.PENDING).update(
        status=Reward.Status.REJECTED, decided_at=timezone.now(), reason=reason[:300]
    )
    if not updated:
        raise ValidationError(NOT_PENDING)
    # A rejected reward no longer counts against its program's budget.
    ProgramBudget.objects.filter(program_id=reward.program_id).update(
        spent=F("spent") - reward.amount
    )
    post(
        tenant=reward.tenant,
        partner=reward.partner,
        currency=reward.currency,
        kind=LedgerEntry.Kind.REJECTION,
        key=f"rejection:{reward.pk}",
        pending=-left,
        reward=reward,
        actor=actor,
        memo=reason[:300],
    )
    reward.status, reward.reason = Reward.Status.REJECTED, reason[:300]
    # Every rejection passes here (by hand, antifraud, a full refund before approval).
    events.reward_rejected(reward=reward, reason=reason)
    webhook_emit(reward.tenant, "reward.rejected", [reward])
    return reward


def reward_hold(*, reward: Reward, reason: str, actor: User | None = None) -> Reward:
    """Flag a reward for review (antifraud): it is not approved automatically."""
    with transaction.atomic():
        updated = Reward.objects.filter(
            pk=reward.pk, status=Reward.Status.PENDING, flagged=False
        ).update(flagged=True)  # the reason stays internal (the ledger memo), not shown
        if updated:
            post(
                tenant=reward.tenant,
                partner=reward.partner,
                currency=reward.currency,
                kind=LedgerEntry.Kind.HOLD,
                key=f"hold:{reward.pk}",
                reward=reward,
                actor=actor,
                memo=reason[:300],
            )
    reward.refresh_from_db()
    return reward


def approve_due(*, limit: int = 5000, batch: int = 1000) -> int:
    """Periodic: approve rewards whose hold ended, unless flagged, refunded or above the
    tenant's manual-approval amount. Crosses tenants, one scope at a time, ``batch``
    rewards a transaction (see ``approve_batch``)."""
    from antifraud.services.verdicts import scored_q

    now = timezone.now()
    # The sweeper looks across tenants by design; each reward is then handled in its own.
    pending = Reward.all_tenants_unscoped.filter(
        status=Reward.Status.PENDING, flagged=False, available_at__lte=now
    )
    due = list(
        pending.filter(scored_q()).order_by("available_at").values_list("tenant_id", "pk")[:limit]
    )
    _score_unscored(pending)
    by_tenant: dict[object, list[object]] = {}
    for tenant_id, pk in due:
        by_tenant.setdefault(tenant_id, []).append(pk)
    approved = 0
    for tenant in Tenant.objects.filter(pk__in=list(by_tenant)):
        pks = by_tenant[tenant.pk]
        # One e-mail per partner for the whole run, however many batches it takes.
        with tenant_scope(tenant), batching(), webhook_batching():
            for start in range(0, len(pks), batch):
                approved += approve_batch(tenant=tenant, reward_ids=pks[start : start + batch])
    return approved


def _score_unscored(pending: Any) -> None:
    """Due rewards whose lead or conversion was never scored (its scoring job lost, or
    made before antifraud existed) wait; ask for their scoring, a bounded number a run."""
    from antifraud.services.verdicts import scored_q

    rows = list(
        pending.exclude(scored_q()).values_list("tenant_id", "conversion_id", "lead_id")[:500]
    )
    if not rows:
        return
    from antifraud.jobs import enqueue_scoring

    by_tenant: dict[Any, tuple[set[Any], set[Any]]] = {}
    for tenant_id, conversion_id, lead_id in rows:
        conversions, leads = by_tenant.setdefault(tenant_id, (set(), set()))
        if conversion_id:
            conversions.add(conversion_id)
        if lead_id:
            leads.add(lead_id)
    for tenant in Tenant.objects.filter(pk__in=list(by_tenant)):
        conversions, leads = by_tenant[tenant.pk]
        with tenant_scope(tenant), transaction.atomic():
            enqueue_scoring(tenant=tenant, conversions=conversions, leads=leads)


def approve_batch(*, tenant: Tenant, reward_ids: list[object], scored_only: bool = True) -> int:
    """``reward_approve`` for many rewards of ``tenant`` in one transaction and a fixed
    number of statements: their partners locked in one statement (by primary key, as
    accrual batches lock them), the clawbacks summed in one query, one conditional
    update, one multi-row insert of approval entries. Rewards above the tenant's
    manual-approval amount stay on hold; a fully clawed-back one is rejected.

    Rewards held for review are never approved here, nor (``scored_only``) those whose
    lead or conversion has no risk assessment yet: read under the partners' locks,
    which scoring also takes before it holds, so a hold is never overtaken."""
    from antifraud.services.verdicts import scored_q

    threshold = tenant.manual_approval_above
    now = timezone.now()
    with transaction.atomic():
        partner_ids = set(
            Reward.objects.filter(pk__in=reward_ids).values_list("partner_id", flat=True)
        )
        list(
            PartnerProfile.objects.select_for_update(no_key=True)
            .filter(pk__in=list(partner_ids))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        candidates = Reward.objects.select_related("partner", "tenant").filter(
            pk__in=reward_ids, status=Reward.Status.PENDING, flagged=False
        )
        rewards = list(candidates.filter(scored_q()) if scored_only else candidates)
        clawed = {
            row["reward_id"]: (row["p"] or ZERO) + (row["a"] or ZERO)
            for row in LedgerEntry.objects.filter(
                reward_id__in=[r.pk for r in rewards], kind=LedgerEntry.Kind.CLAWBACK
            )
            .values("reward_id")
            .annotate(p=Sum("pending"), a=Sum("available"))
        }
        ok, entries, done = [], [], 0
        for reward in rewards:
            left = money(reward.amount + clawed.get(reward.pk, ZERO))
            if threshold is not None and left > threshold:
                continue
            if left <= 0:
                _reject_locked(reward, None, str(REFUNDED))  # rare: one at a time
                done += 1
                continue
            ok.append(reward.pk)
            entries.append(
                LedgerEntry(
                    tenant=tenant,
                    partner=reward.partner,
                    currency=reward.currency,
                    kind=LedgerEntry.Kind.APPROVAL,
                    key=f"approval:{reward.pk}",
                    pending=-left,
                    available=left,
                    processing=ZERO,
                    paid=ZERO,
                    reward=reward,
                )
            )
        if ok:
            # Under the partners' locks nothing else decides these rewards meanwhile.
            Reward.objects.filter(pk__in=ok, status=Reward.Status.PENDING).update(
                status=Reward.Status.APPROVED, decided_at=now, reason=""
            )
            LedgerEntry.objects.bulk_create(entries)
            approved = set(ok)
            decided = [r for r in rewards if r.pk in approved]
            events.rewards_approved(tenant=tenant, rewards=decided)
            webhook_emit(tenant, "reward.approved", decided)
            touch_now(tenant, {e.partner_id for e in entries})
            rewards_changed.send(sender=Reward, tenant_id=tenant.pk, reward_ids=ok)
            ledger_moved.send(
                sender=LedgerEntry,
                tenant_id=tenant.pk,
                partner_ids=sorted({e.partner_id for e in entries}),
            )
    return done + len(ok)


def clawback_due(reward: Reward, conversion: Conversion) -> Decimal:
    """How much of ``reward`` the conversion's refunds take back so far: the reward ×
    the total refunded / the amount, rounded once (all of it once fully refunded).

    Computed on the running total, never per refund, so no sequence of partial refunds
    drifts from the pro-rata share by rounding.
    """
    if conversion.refunded_amount <= 0 or conversion.amount <= 0:
        return ZERO
    if conversion.refunded_amount >= conversion.amount:
        return reward.amount
    return money(reward.amount * conversion.refunded_amount / conversion.amount)


def clawback_apply(*, reward: Reward, conversion: Conversion, memo: str = "") -> bool:
    """Post what the conversion's refunds take back from ``reward`` and was not taken
    back yet. Call it under the partner's lock with fresh rows; safe to repeat.

    A reward still on hold shrinks; one already approved (or paid) becomes a negative
    entry in the available balance, netted against future earnings.
    """
    if reward.status == Reward.Status.REJECTED:
        return False
    clawed = reward.amount - remaining(reward)
    share = min(clawback_due(reward, conversion) - clawed, reward.amount - clawed)
    if share <= 0:
        return False
    on_hold = reward.status == Reward.Status.PENDING
    _, created = post(
        tenant=reward.tenant,
        partner=reward.partner,
        currency=reward.currency,
        kind=LedgerEntry.Kind.CLAWBACK,
        # One entry per running total: a repeated job finds its own entry.
        key=f"clawback:{reward.pk}:{conversion.refunded_amount}",
        pending=-share if on_hold else ZERO,
        available=ZERO if on_hold else -share,
        reward=reward,
        memo=(memo or f"refunded {conversion.refunded_amount} of {conversion.amount}")[:300],
    )
    return created


def clawback_refund(*, refund_id: str) -> int:
    """Job: take back the refunded share of every reward of the refund's conversion.

    The conversion's partner is locked first: the accrual holds that lock while it
    creates the rewards, so a refund that lands while they are being created waits for
    them instead of finding none. An accrual that runs after the refund applies it
    itself (see ``accrue_conversion``); whichever runs second finds nothing left to do.
    """
    refund = Refund.objects.select_related("conversion__partner").filter(pk=refund_id).first()
    if refund is None:
        return 0
    conversion: Conversion = refund.conversion
    count = 0
    with transaction.atomic():
        if conversion.partner is not None:
            lock_partner(conversion.partner)
        conversion.refresh_from_db(fields=["amount", "refunded_amount"])
        for reward in Reward.objects.filter(conversion=conversion).select_related("partner"):
            if reward.partner_id != conversion.partner_id:
                lock_partner(reward.partner)  # upline shares: recruiters come after
            reward.refresh_from_db()
            memo = f"refund {refund.external_id}: {refund.amount} of {conversion.amount}"
            count += int(clawback_apply(reward=reward, conversion=conversion, memo=memo))
    return count


def ledger_adjust(
    *,
    tenant: Tenant,
    partner: PartnerProfile,
    currency: str,
    amount: Decimal,
    kind: str,
    reason: str,
    actor: User,
    key: str,
) -> LedgerEntry:
    """A manual correction (+/-) or a penalty (-) of the available balance."""
    if not reason.strip():
        raise ValidationError(NEEDS_REASON)
    if kind not in (LedgerEntry.Kind.ADJUSTMENT, LedgerEntry.Kind.PENALTY):
        raise ValueError(kind)
    if kind == LedgerEntry.Kind.PENALTY:
        amount = -abs(amount)
    if amount == 0:
        raise ValidationError(_("The amount cannot be zero."))
    with transaction.atomic():
        lock_partner(partner)
        entry, created = post(
            tenant=tenant,
            partner=partner,
            currency=currency,
            kind=kind,
            key=key,
            available=amount,
            actor=actor,
            memo=reason[:300],
        )
        if created:  # a replayed key (a form sent twice) changed nothing to record
            audit_record(
                tenant=tenant,
                actor=actor,
                action=f"ledger.{kind}",
                obj=partner,
                after={"amount": str(amount), "currency": currency, "reason": reason},
            )
    return entry
