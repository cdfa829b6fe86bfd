"""Turning conversions and leads into rewards: level 1, the upline, bonuses.

Runs as a job after the conversion (or lead) is committed; every reward has a unique
key, so a job delivered twice accrues once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Q, Sum

from partners.models import PartnerProfile
from prm.models import Tenant
from programs.models import Conversion, Enrollment, Lead, Program
from rewards.models import LedgerEntry, ProgramBudget, Reward, RewardRule
from rewards.services.budget import budget_ensure
from rewards.services.ledger import ZERO, money, post
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
    budget_ensure(program)  # the first accrual under a budget counts what was spent before
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
    from prm.notifications import events

    events.rewards_created(tenant=tenant, rewards=[reward])
    from prm.webhooks.events import emit as webhook_emit

    webhook_emit(tenant, "reward.created", [reward])
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
    """Job: rewards for one conversion (level 1, upline shares, bonuses): the batch
    engine with a batch of one, so a conversion arriving by API and a bulk run compute
    the same. A missing exchange rate raises, so the job fails and is retried."""
    from rewards.services.accrual_batch import accrue_conversions

    return accrue_conversions([conversion_id], strict=True)


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
    from antifraud.services.verdicts import HOLD, verdicts
    from rewards.services.ledger import lock_partner

    with transaction.atomic():
        lock_budget(program)
        # Scoring holds under the partner's lock: read its verdict under it too.
        lock_partner(partner)
        verdict = verdicts(lead_ids=[lead.pk]).get(lead.pk)
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
        made = [
            base,
            *_upline_shares(
                tenant=lead.tenant, base=base, program=program, fx_snapshot={}, at=lead.created_at
            ),
        ]
        if verdict is not None:
            from antifraud.services.holds import hold_rewards, reject_rewards

            rewards = Reward.objects.filter(pk__in=[r.pk for r in made])
            if verdict.action == HOLD:
                hold_rewards(rewards)
            else:
                reject_rewards(rewards, reason=verdict.reason)
            for reward in made:
                reward.refresh_from_db(fields=["status", "flagged", "reason"])
        return made


def referred_reward(program: Program, partner: PartnerProfile) -> dict[str, Any] | None:
    """What the referred customer gets under the partner's rule (double-sided programs)."""
    rule = rule_for(program, partner, RewardRule.Event.CONVERSION)
    if rule is None or rule.referred_reward == RewardRule.ReferredReward.NONE:
        return None
    return {"kind": rule.referred_reward, "value": str(rule.referred_value or ZERO)}
