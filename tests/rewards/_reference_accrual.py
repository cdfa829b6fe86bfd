"""The per-conversion accrual engine as it was before the set-based one (issue 10),
kept only as the reference the differential test compares the batch engine with.
Not used by the application. The helpers both engines share are imported from the
application's accrual module; only the per-conversion job and its bonus step are kept
here as they were."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q

from partners.models import PartnerProfile
from prm.models import Tenant
from programs.models import Conversion, Program
from rewards.models import BonusRule, Reward, RewardRule
from rewards.services import fx
from rewards.services.accrual import (
    _create,
    _eligible,
    _upline_shares,
    _volume,
    conversion_calculation,
    lock_budget,
)
from rewards.services.approvals import clawback_apply
from rewards.services.ledger import lock_partner, money
from rewards.services.rules import Volume, rule_for, snapshot


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
