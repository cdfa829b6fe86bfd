"""The accrual batch's rewards worked out in memory (no queries), from what
``accrual_batch`` read under the partners' locks: conversion by conversion in
``occurred_at`` order, level 1, upline shares, bonuses and refunds already made, with
month volumes and budget room advanced as rewards are made. What
``accrual._create`` / ``_upline_shares`` / the reference engine's bonus step do, one
conversion at a time, against the database."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from partners.models import PartnerProfile
from programs.models import Conversion, Program
from rewards.models import BonusRule, LedgerEntry, Reward, RewardRule
from rewards.services import fx
from rewards.services.approvals import clawback_due
from rewards.services.ledger import ZERO, money
from rewards.services.rules import Volume, calculate, snapshot

log = logging.getLogger(__name__)


@dataclass
class BatchRewards:
    """What one batch creates, and the running totals it advances in Python."""

    tenant_id: Any
    existing: dict[str, Reward]
    room: dict[Any, Decimal | None]  # program id → budget room (None: no budget)
    spent: dict[Any, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    made: dict[str, Reward] = field(default_factory=dict)
    rewards: list[Reward] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)  # LedgerEntry rows

    def create(
        self,
        *,
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
        memo: str = "",
    ) -> Reward | None:
        """``accrual._create`` in memory: budget room, then the key, then the reward
        and its accrual entry queued for the multi-row inserts."""
        from rewards.services.accrual import hold_until

        amount = money(amount)
        room = self.room.get(program.pk)
        if room is not None:
            room = max(room - self.spent[program.pk], ZERO)
            if amount > room:
                amount = room
                memo = (memo + "; " if memo else "") + "program budget reached"
        if amount <= 0:
            return None
        found = self.existing.get(key) or self.made.get(key)
        if found is not None:
            return found
        reward = Reward(
            tenant_id=self.tenant_id,
            key=key,
            partner=partner,
            program=program,
            conversion=conversion,
            kind=kind,
            level=level,
            amount=amount,
            currency=program.currency,
            rule=rule,
            available_at=hold_until(program, partner, at),
        )
        self.made[key] = reward
        self.rewards.append(reward)
        if self.room.get(program.pk) is not None:
            self.spent[program.pk] += amount
        self.entries.append(
            {
                "tenant_id": self.tenant_id,
                "partner_id": partner.pk,
                "currency": program.currency,
                "kind": LedgerEntry.Kind.ACCRUAL,
                "key": f"accrual:{reward.pk}",
                "pending": amount,
                "reward_id": reward.pk,
                "rule": rule,
                "fx": fx_snapshot,
                "memo": memo[:300],
            }
        )
        return reward


def _rule_for(
    rules: list[RewardRule], partner: PartnerProfile
) -> RewardRule | None:  # as rules.rule_for
    by_scope: dict[str, RewardRule] = {}
    for r in rules:
        if r.partner_id == partner.pk:
            by_scope["partner"] = r
        elif r.partner_id is None and r.group_id is None:
            by_scope["program"] = r
        elif r.partner_id is None and partner.group_id and r.group_id == partner.group_id:
            by_scope["group"] = r
    return by_scope.get("partner") or by_scope.get("group") or by_scope.get("program")


def upline_chain(
    partner: PartnerProfile, levels: int, profiles: dict[Any, PartnerProfile]
) -> list[tuple[int, PartnerProfile]]:
    """``accrual._upline`` over the profiles loaded for the batch."""
    chain: list[tuple[int, PartnerProfile]] = []
    seen = {partner.pk}
    current = partner
    for level in range(2, levels + 1):
        parent = profiles.get(current.recruited_by_id) if current.recruited_by_id else None
        if parent is None or parent.pk in seen:
            break
        seen.add(parent.pk)
        chain.append((level, parent))
        current = parent
    return chain


@dataclass
class BatchInputs:
    """What a batch read under its partners' locks, to work its rewards out from."""

    tenant_id: Any
    conversions: list[Conversion]
    fresh: dict[Any, dict[str, Any]]
    active: set[tuple[Any, Any]]
    rules: dict[Any, list[RewardRule]]
    bonuses: dict[Any, list[BonusRule]]
    book: fx.RateBook
    existing: dict[str, Reward]
    profiles: dict[Any, PartnerProfile]
    strict: bool
    snapshots: dict[Any, dict[str, Any]] = field(default_factory=dict)  # a rule's copy


def compute_rewards(
    inputs: BatchInputs, room: dict[Any, Decimal | None]
) -> tuple[BatchRewards, list[Reward], list[tuple[Reward, Conversion]]]:
    """The batch's rewards, in ``occurred_at`` order, with ``room`` left in each
    budgeted program: the rewards to insert, every reward of the batch (new or found),
    and the found ones a refund still has to claw back."""
    existing, active, snapshots = inputs.existing, inputs.active, inputs.snapshots
    batch = BatchRewards(tenant_id=inputs.tenant_id, existing=existing, room=room)
    created: list[Reward] = []
    month_added: dict[tuple[Any, Any, str], Decimal] = defaultdict(lambda: ZERO)
    claw_later: list[tuple[Reward, Conversion]] = []
    for c in inputs.conversions:
        row = inputs.fresh.get(c.pk)
        if row is None:
            continue
        c.amount, c.refunded_amount = row["amount"], row["refunded_amount"]
        program, partner = c.program, c.partner
        assert partner is not None
        if (
            partner.status != PartnerProfile.Status.ACTIVE
            or (
                program.pk,
                partner.pk,
            )
            not in active
        ):
            continue
        rule = _rule_for(inputs.rules[program.pk], partner)
        if rule is None or c.amount <= 0:
            continue
        try:
            amount, fx_snapshot = inputs.book.convert(
                c.amount, c.currency, program.currency, c.occurred_at.date()
            )
        except ValidationError:
            if inputs.strict:
                raise
            log.warning("accrual skipped, no exchange rate: conversion %s", c.pk)
            continue
        period = c.occurred_at.strftime("%Y-%m")
        month_key = (program.pk, partner.pk, period)
        volume = Volume(
            conversions=row["vol_n"],
            revenue=money(row["vol_revenue"]),
            rewarded=money(row["vol_rewarded"] + month_added[month_key]),
        )
        calc = calculate(
            rule,
            amount=amount,
            kind=c.kind,
            prior_payments=row["prior_subscriptions"],
            is_new_customer=row["prior_n"] == 0,
            volume=volume,
        )
        if c.refunded_amount < c.amount:
            if rule.pk not in snapshots:
                snapshots[rule.pk] = snapshot(rule)
            rule_copy = {
                **snapshots[rule.pk],
                "base_amount": str(money(amount)),
                "notes": calc.notes,
            }
            base = batch.create(
                key=f"conversion:{c.pk}",
                partner=partner,
                program=program,
                kind=Reward.Kind.CONVERSION,
                level=1,
                amount=calc.amount,
                rule=rule_copy,
                fx_snapshot=fx_snapshot,
                at=c.occurred_at,
                conversion=c,
                memo="; ".join(calc.notes),
            )
            if base is not None:
                made = [base]
                if base.key not in existing:
                    month_added[month_key] += base.amount
                made += _shares(batch, c, base, inputs.profiles, active, fx_snapshot)
                if c.refunded_amount > 0:
                    for reward in made:
                        if reward.key in existing:
                            claw_later.append((reward, c))
                        else:
                            _claw(batch, reward, c)
                created += made
        created += _bonuses(batch, c, inputs.bonuses[program.pk], volume)
    return batch, created, claw_later


def _shares(
    batch: BatchRewards,
    c: Conversion,
    base: Reward,
    profiles: dict[Any, PartnerProfile],
    active: set[tuple[Any, Any]],
    fx_snapshot: dict[str, Any],
) -> list[Reward]:
    """``accrual._upline_shares`` for one base reward."""
    program, partner = c.program, c.partner
    assert partner is not None
    shares = []
    percents = list(program.level_percents or [])
    for level, ancestor in upline_chain(partner, program.levels, profiles):
        if level - 2 >= len(percents):
            break
        percent = Decimal(str(percents[level - 2]))
        if percent <= 0 or not (
            ancestor.status == PartnerProfile.Status.ACTIVE and (program.pk, ancestor.pk) in active
        ):
            continue
        reward = batch.create(
            key=f"{base.key}:L{level}:{ancestor.pk}",
            partner=ancestor,
            program=program,
            kind=base.kind,
            level=level,
            amount=base.amount * percent / Decimal(100),
            rule={**base.rule, "level": level, "level_percent": str(percent)},
            fx_snapshot=fx_snapshot,
            at=c.occurred_at,
            conversion=c,
            memo=f"level {level}: {percent}% of {partner}'s reward",
        )
        if reward:
            shares.append(reward)
    return shares


def _claw(batch: BatchRewards, reward: Reward, c: Conversion) -> None:
    """``approvals.clawback_apply`` for a reward made in this batch (nothing clawed yet,
    still on hold): the refunded share so far, rounded once."""
    share = clawback_due(reward, c)
    if share <= 0:
        return
    batch.entries.append(
        {
            "tenant_id": batch.tenant_id,
            "partner_id": reward.partner_id,
            "currency": reward.currency,
            "kind": LedgerEntry.Kind.CLAWBACK,
            "key": f"clawback:{reward.pk}:{c.refunded_amount}",
            "pending": -share,
            "reward_id": reward.pk,
            "memo": f"refunded {c.refunded_amount} of {c.amount}"[:300],
        }
    )


def _bonuses(
    batch: BatchRewards, c: Conversion, rules: list[BonusRule], volume: Volume
) -> list[Reward]:
    """``accrual._bonuses``: ``volume`` counts the month up to this conversion."""
    partner = c.partner
    assert partner is not None
    period = c.occurred_at.strftime("%Y-%m")
    created = []
    for bonus in rules:
        if bonus.group_id is not None and bonus.group_id != partner.group_id:
            continue
        reached = (
            volume.conversions >= bonus.threshold
            if bonus.metric == BonusRule.Metric.CONVERSIONS
            else volume.revenue >= bonus.threshold
        )
        if not reached:
            continue
        reward = batch.create(
            key=f"bonus:{bonus.pk}:{partner.pk}:{period}",
            partner=partner,
            program=c.program,
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
            at=c.occurred_at,
            memo=f"bonus for {bonus.threshold} {bonus.metric} in {period}",
        )
        if reward:
            created.append(reward)
    return created
