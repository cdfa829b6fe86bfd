"""The per-conversion accrual engine as it was before the set-based one (issue 10),
kept only as the reference the differential test compares the batch engine with.
Not used by the application."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum

from partners.models import PartnerProfile
from prm.models import Tenant
from programs.models import Conversion, Enrollment, Lead, Program
from rewards.models import BonusRule, LedgerEntry, ProgramBudget, Reward, RewardRule
from rewards.services import fx
from rewards.services.approvals import clawback_apply
from rewards.services.ledger import ZERO, lock_partner, money, post
from rewards.services.rules import Calculation, Volume, calculate, rule_for, snapshot

log = logging.getLogger(__name__)


def month_start(at: datetime) -> datetime:
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def hold_until(program: Program, partner: PartnerProfile, at: datetime) -> datetime:
    days = program.hold_days
    if partner.group_id and partner.group.hold_days is not None:  # type: ignore[union-attr]
        days = partner.group.hold_days  # type: ignore[union-attr]
    return at + timedelta(days=days)


def _budget_room(program: Program) -> Decimal | None:
    """What the program's budget still allows (None: no budget). Read under the lock
    ``lock_budget`` took, from the running total, never a sum over history."""
    if program.reward_budget is None:
        return None
    spent = (
        ProgramBudget.objects.filter(program=program).values_list("spent", flat=True).first()
        or ZERO
    )
    return max(program.reward_budget - spent, ZERO)


def lock_budget(program: Program) -> None:
    """A budget is read-then-written by every accrual of the program, so those
    serialise on its running-total row; programs without a budget take no lock."""
    if program.reward_budget is None:
        return
    if ProgramBudget.objects.select_for_update().filter(program=program).exists():
        return
    # The first accrual under a budget counts what was spent before it (once).
    spent = (
        Reward.objects.filter(program=program)
        .exclude(status=Reward.Status.REJECTED)
        .aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    try:
        with transaction.atomic():
            ProgramBudget.objects.create(tenant=program.tenant, program=program, spent=spent)
    except IntegrityError:
        pass  # another accrual made it first
    ProgramBudget.objects.select_for_update().filter(program=program).exists()


def _eligible(program: Program, partner: PartnerProfile) -> bool:
    return (
        partner.status == PartnerProfile.Status.ACTIVE
        and Enrollment.objects.filter(
            program=program, partner=partner, status=Enrollment.Status.ACTIVE
        ).exists()
    )


def _create(
    *,
    tenant: Tenant,
    key: str,
    partner: PartnerProfile,
    program: Program,
    kind: str,
    level: int,
    amount: Decimal,
    rule: dict[str, Any],
    fx_snapshot: dict[str, Any],
    at: datetime,
    conversion: Conversion | None = None,
    lead: Lead | None = None,
    memo: str = "",
) -> Reward | None:
    amount = money(amount)
    room = _budget_room(program)
    if room is not None and amount > room:
        amount = room
        memo = (memo + "; " if memo else "") + "program budget reached"
    if amount <= 0:
        return None
    existing = Reward.objects.filter(key=key).first()
    if existing is not None:
        return existing
    reward = Reward.objects.create(
        tenant=tenant,
        key=key,
        partner=partner,
        program=program,
        conversion=conversion,
        lead=lead,
        kind=kind,
        level=level,
        amount=amount,
        currency=program.currency,
        rule=rule,
        available_at=hold_until(program, partner, at),
    )
    # A no-op for programs that never had a budget (no running-total row).
    ProgramBudget.objects.filter(program=program).update(spent=F("spent") + amount)
    post(
        fresh=True,  # the reward was created just now: its accrual cannot exist yet
        tenant=tenant,
        partner=partner,
        currency=program.currency,
        kind=LedgerEntry.Kind.ACCRUAL,
        key=f"accrual:{reward.pk}",
        pending=amount,
        reward=reward,
        rule=rule,
        fx=fx_snapshot,
        memo=memo[:300],
    )
    return reward


def _upline(partner: PartnerProfile, levels: int) -> list[tuple[int, PartnerProfile]]:
    """Recruiters above ``partner``, level 2 first; cycles cannot loop forever."""
    chain: list[tuple[int, PartnerProfile]] = []
    seen = {partner.pk}
    current = partner
    for level in range(2, levels + 1):
        parent = (
            PartnerProfile.objects.filter(pk=current.recruited_by_id).first()
            if current.recruited_by_id
            else None
        )
        if parent is None or parent.pk in seen:
            break
        seen.add(parent.pk)
        chain.append((level, parent))
        current = parent  # a blocked recruiter loses the share but keeps the chain
    return chain


def _upline_shares(
    *, tenant: Tenant, base: Reward, program: Program, fx_snapshot: dict[str, Any], at: datetime
) -> list[Reward]:
    shares = []
    percents = list(program.level_percents or [])
    for level, ancestor in _upline(base.partner, program.levels):
        if level - 2 >= len(percents):
            break
        percent = Decimal(str(percents[level - 2]))
        if percent <= 0 or not _eligible(program, ancestor):
            continue
        reward = _create(
            tenant=tenant,
            key=f"{base.key}:L{level}:{ancestor.pk}",
            partner=ancestor,
            program=program,
            kind=base.kind,
            level=level,
            amount=base.amount * percent / Decimal(100),
            rule={**base.rule, "level": level, "level_percent": str(percent)},
            fx_snapshot=fx_snapshot,
            at=at,
            conversion=base.conversion,
            lead=base.lead,
            memo=f"level {level}: {percent}% of {base.partner}'s reward",
        )
        if reward:
            shares.append(reward)
    return shares


def _volume(program: Program, partner: PartnerProfile, at: datetime) -> Volume:
    start = month_start(at)
    stats = Conversion.objects.filter(
        program=program, partner=partner, occurred_at__gte=start, occurred_at__lte=at
    ).aggregate(n=Count("id"), revenue=Sum("amount"))
    rewarded = (
        Reward.objects.filter(
            program=program,
            partner=partner,
            kind=Reward.Kind.CONVERSION,
            level=1,
            # The conversions' own month, so a late report counts where it belongs.
            conversion__occurred_at__gte=start,
            conversion__occurred_at__lte=at,
        )
        .exclude(status=Reward.Status.REJECTED)
        .aggregate(total=Sum("amount"))["total"]
    )
    return Volume(
        conversions=stats["n"] or 0,
        revenue=money(stats["revenue"] or ZERO),
        rewarded=money(rewarded or ZERO),
    )


def _customer_q(conversion: Conversion) -> Q | None:
    q = Q()
    if conversion.customer_email:
        q |= Q(customer_email=conversion.customer_email)
    if conversion.customer_external_id:
        q |= Q(customer_external_id=conversion.customer_external_id)
    return q or None


def conversion_calculation(
    conversion: Conversion, rule: RewardRule, amount: Decimal, volume: Volume | None = None
) -> Calculation:
    """What ``rule`` pays for ``conversion`` (also used by the rule preview)."""
    prior = {"n": 0, "subscriptions": 0}
    customer = _customer_q(conversion)
    if customer is not None:
        prior = (
            Conversion.objects.filter(
                customer, program=conversion.program, occurred_at__lt=conversion.occurred_at
            )
            .exclude(pk=conversion.pk)
            .aggregate(
                n=Count("id"),
                subscriptions=Count("id", filter=Q(kind=Conversion.Kind.SUBSCRIPTION)),
            )
        )
    if volume is None:
        volume = _volume(conversion.program, conversion.partner, conversion.occurred_at)  # type: ignore[arg-type]
    return calculate(
        rule,
        amount=amount,
        kind=conversion.kind,
        prior_payments=prior["subscriptions"],
        is_new_customer=prior["n"] == 0,
        volume=volume,
    )


def accrue_conversion(*, conversion_id: str) -> list[Reward]:
    """Job: rewards for one conversion (level 1, upline shares, bonuses)."""
    conversion = (
        Conversion.objects.select_related("program", "partner", "partner__group")
        .filter(pk=conversion_id)
        .first()
    )
    if conversion is None or conversion.partner is None:
        return []
    program, partner, tenant = conversion.program, conversion.partner, conversion.tenant
    if not _eligible(program, partner):
        return []
    rule = rule_for(program, partner, RewardRule.Event.CONVERSION)
    if rule is None or conversion.amount <= 0:
        return []  # a sale of zero earns nothing (and needs no exchange rate)
    amount, fx_snapshot = fx.convert(
        conversion.amount, conversion.currency, program.currency, conversion.occurred_at.date()
    )
    with transaction.atomic():
        lock_budget(program)
        lock_partner(partner)  # monthly caps and tiers read the partner's month
        # Refunds may have landed before this job ran (a retry, another worker): read
        # them under the lock a refund's clawback job also takes first.
        conversion.refresh_from_db(fields=["amount", "refunded_amount"])
        volume = _volume(program, partner, conversion.occurred_at)
        calc = conversion_calculation(conversion, rule, amount, volume)
        rule_copy = {**snapshot(rule), "base_amount": str(money(amount)), "notes": calc.notes}
        created: list[Reward] = []
        if conversion.refunded_amount >= conversion.amount:
            # Fully refunded before it was rewarded: nothing to pay, nothing to claw back.
            return _bonuses(
                volume=volume,
                tenant=tenant,
                program=program,
                partner=partner,
                at=conversion.occurred_at,
            )
        base = _create(
            tenant=tenant,
            key=f"conversion:{conversion.pk}",
            partner=partner,
            program=program,
            kind=Reward.Kind.CONVERSION,
            level=1,
            amount=calc.amount,
            rule=rule_copy,
            fx_snapshot=fx_snapshot,
            at=conversion.occurred_at,
            conversion=conversion,
            memo="; ".join(calc.notes),
        )
        if base is not None:
            created.append(base)
            created += _upline_shares(
                tenant=tenant,
                base=base,
                program=program,
                fx_snapshot=fx_snapshot,
                at=conversion.occurred_at,
            )
        if conversion.refunded_amount > 0:
            for reward in created:
                if reward.partner_id != partner.pk:
                    lock_partner(reward.partner)
                clawback_apply(reward=reward, conversion=conversion)
        created += _bonuses(
            volume=volume,
            tenant=tenant,
            program=program,
            partner=partner,
            at=conversion.occurred_at,
        )
    return created


def _bonuses(
    *, tenant: Tenant, program: Program, partner: PartnerProfile, at: datetime, volume: Volume
) -> list[Reward]:
    """``volume`` counts this month's conversions (this one included) and revenue."""
    rules = BonusRule.objects.filter(program=program, is_active=True).filter(
        Q(group__isnull=True) | Q(group_id=partner.group_id)
    )
    period = at.strftime("%Y-%m")
    created = []
    for bonus in rules:
        reached = (
            volume.conversions >= bonus.threshold
            if bonus.metric == BonusRule.Metric.CONVERSIONS
            else volume.revenue >= bonus.threshold
        )
        if not reached:
            continue
        reward = _create(
            tenant=tenant,
            key=f"bonus:{bonus.pk}:{partner.pk}:{period}",
            partner=partner,
            program=program,
            kind=Reward.Kind.BONUS,
            level=1,
            amount=bonus.amount,
            rule={
                "bonus_id": str(bonus.pk),
                "metric": bonus.metric,
                "threshold": str(bonus.threshold),
                "amount": str(bonus.amount),
                "period": period,
            },
            fx_snapshot={},
            at=at,
            memo=f"bonus for {bonus.threshold} {bonus.metric} in {period}",
        )
        if reward:
            created.append(reward)
    return created


def accrue_lead(*, lead_id: str) -> list[Reward]:
    """Job: the fixed reward for a lead (duplicates and unattributed leads earn nothing)."""
    lead = (
        Lead.objects.select_related("program", "partner", "partner__group")
        .filter(pk=lead_id)
        .first()
    )
    if lead is None or lead.partner is None or lead.duplicate_of_id is not None:
        return []
    program, partner = lead.program, lead.partner
    if not _eligible(program, partner):
        return []
    rule = rule_for(program, partner, RewardRule.Event.LEAD)
    if rule is None or rule.kind != RewardRule.Kind.FIXED:
        return []
    with transaction.atomic():
        lock_budget(program)
        base = _create(
            tenant=lead.tenant,
            key=f"lead:{lead.pk}",
            partner=partner,
            program=program,
            kind=Reward.Kind.LEAD,
            level=1,
            amount=rule.value,
            rule=snapshot(rule),
            fx_snapshot={},
            at=lead.created_at,
            lead=lead,
        )
        if base is None:
            return []
        return [
            base,
            *_upline_shares(
                tenant=lead.tenant, base=base, program=program, fx_snapshot={}, at=lead.created_at
            ),
        ]


def referred_reward(program: Program, partner: PartnerProfile) -> dict[str, Any] | None:
    """What the referred customer gets under the partner's rule (double-sided programs)."""
    rule = rule_for(program, partner, RewardRule.Event.CONVERSION)
    if rule is None or rule.referred_reward == RewardRule.ReferredReward.NONE:
        return None
    return {"kind": rule.referred_reward, "value": str(rule.referred_value or ZERO)}
