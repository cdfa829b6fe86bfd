"""The set-based accrual engine: rewards for a batch of conversions in one transaction.

A fixed number of statements per batch, whatever its size: the conversions with their
program, partner and group in one query; the upline one query per level; the budgets'
running-total rows and every partner involved locked (partners in one statement, by
primary key, so batches and single accruals never deadlock); the fresh amounts, month
volumes and customer histories in one query of correlated aggregates; enrollments,
rules, bonus rules, exchange rates and existing reward keys in one query each; then the
rewards are computed in Python in ``occurred_at`` order (month volumes and budget room
advanced as rewards are made) and written with two multi-row inserts.

It computes exactly what the per-conversion engine did (``tests/rewards/
_reference_accrual.py`` keeps it; the differential test compares both to the cent). The
single-conversion job ``accrual.accrue_conversion`` is this engine with a batch of one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, Count, F, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, TruncMonth

from partners.models import PartnerProfile
from prm.tenancy import require_tenant
from programs.analytics.refresh import touch_now
from programs.models import Conversion, Enrollment, Program
from rewards.models import BonusRule, LedgerEntry, ProgramBudget, Reward, RewardRule
from rewards.services import fx
from rewards.services.approvals import clawback_apply, clawback_due
from rewards.services.ledger import ZERO, money
from rewards.services.rules import Volume, calculate, snapshot

log = logging.getLogger(__name__)

BATCH = 1000
_DEC = Value(Decimal("0"))


def _count(qs: Any, **extra: Any) -> Subquery:
    return Coalesce(
        Subquery(qs.order_by().values("tenant").annotate(n=Count("pk", **extra)).values("n")[:1]),
        0,
    )


def _sum(qs: Any, column: str) -> Subquery:
    return Coalesce(
        Subquery(qs.order_by().values("tenant").annotate(s=Sum(column)).values("s")[:1]),
        _DEC,
    )


def _if(condition: Q, subquery: Any) -> Case:
    """``subquery`` only for the rows that meet ``condition`` (PostgreSQL evaluates a
    CASE branch's subplan lazily), else 0."""
    return Case(When(condition, then=subquery), default=0)


def _fresh_rows(ids: list[Any]) -> dict[Any, dict[str, Any]]:
    """Amounts and refunds read under the partners' locks, with each conversion's month
    so far (as ``accrual._volume``: this partner's conversions of the UTC month up to
    this one, and the level-1 conversion rewards of those not rejected) and its
    customer's earlier conversions in the program (as ``conversion_calculation``)."""
    month = Conversion.objects.filter(
        program=OuterRef("program"),
        partner=OuterRef("partner"),
        occurred_at__gte=OuterRef("month"),
        occurred_at__lte=OuterRef("occurred_at"),
    )
    rewarded = Reward.objects.filter(
        program=OuterRef("program"),
        partner=OuterRef("partner"),
        kind=Reward.Kind.CONVERSION,
        level=1,
        conversion__occurred_at__gte=OuterRef("month"),
        conversion__occurred_at__lte=OuterRef("occurred_at"),
    ).exclude(status=Reward.Status.REJECTED)
    # "Same e-mail or same external id" as two index-backed halves (an OR would scan
    # the program): the e-mail matches, or else the external id does.
    by_email = Q(customer_email=OuterRef("customer_email")) & ~Q(customer_email="")
    by_id = (
        Q(customer_external_id=OuterRef("customer_external_id"))
        & ~Q(customer_external_id="")
        & ~by_email
    )
    before = Conversion.objects.filter(
        program=OuterRef("program"), occurred_at__lt=OuterRef("occurred_at")
    ).exclude(pk=OuterRef("pk"))
    subscription = Q(kind=Conversion.Kind.SUBSCRIPTION)
    email, external = ~Q(customer_email=""), ~Q(customer_external_id="")
    rows = (
        Conversion.objects.filter(pk__in=ids)
        .annotate(month=TruncMonth("occurred_at", tzinfo=UTC))
        .annotate(
            vol_n=_count(month),
            vol_revenue=_sum(month, "amount"),
            vol_rewarded=_sum(rewarded, "amount"),
            prior_n=_if(email, _count(before.filter(by_email)))
            + _if(external, _count(before.filter(by_id))),
            prior_subscriptions=_if(email, _count(before.filter(by_email), filter=subscription))
            + _if(external, _count(before.filter(by_id), filter=subscription)),
        )
        .values(
            "pk",
            "amount",
            "refunded_amount",
            "vol_n",
            "vol_revenue",
            "vol_rewarded",
            "prior_n",
            "prior_subscriptions",
        )
    )
    return {row["pk"]: row for row in rows}


@dataclass
class _Batch:
    """What one batch creates, and the running totals it advances in Python."""

    tenant_id: Any
    existing: dict[str, Reward]
    room: dict[Any, Decimal | None]  # program id → budget room (None: no budget)
    spent: dict[Any, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    made: dict[str, Reward] = field(default_factory=dict)
    rewards: list[Reward] = field(default_factory=list)
    entries: list[LedgerEntry] = field(default_factory=list)

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
            LedgerEntry(
                tenant_id=self.tenant_id,
                partner=partner,
                currency=program.currency,
                kind=LedgerEntry.Kind.ACCRUAL,
                key=f"accrual:{reward.pk}",
                pending=money(amount),
                available=ZERO,
                processing=ZERO,
                paid=ZERO,
                reward=reward,
                rule=rule,
                fx=fx_snapshot,
                memo=memo[:300],
            )
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


def _chain(
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


def _depth(program: Program) -> int:
    """The deepest level that can pay in ``program``."""
    return min(program.levels, len(program.level_percents or []) + 1)


def accrue_conversions(conversion_ids: Iterable[Any], *, strict: bool = False) -> list[Reward]:
    """Rewards for a batch of the current tenant's conversions, in one transaction
    (level 1, upline shares, bonuses, refunds already made). Idempotent: a batch run
    twice creates nothing new. A conversion with no exchange rate for its date is
    skipped and logged (``strict``: the ``ValidationError`` is raised, as the
    single-conversion job does so it is retried)."""
    ids = list(dict.fromkeys(conversion_ids))
    if not ids:
        return []
    conversions = [
        c
        for c in Conversion.objects.select_related(
            "program", "partner", "partner__group", "partner__user"
        )
        .filter(pk__in=ids, partner__isnull=False)
        .order_by("occurred_at", "pk")
        if c.amount > 0
    ]
    if not conversions:
        return []
    tenant_id = conversions[0].tenant_id
    programs = {c.program_id: c.program for c in conversions}
    profiles: dict[Any, PartnerProfile] = {c.partner_id: c.partner for c in conversions}  # type: ignore[misc]
    # The upline, one query per level.
    depth = max(_depth(p) for p in programs.values())
    frontier = {p.recruited_by_id for p in profiles.values() if p.recruited_by_id}
    for _level in range(2, depth + 1):
        frontier -= set(profiles)
        if not frontier:
            break
        found = PartnerProfile.objects.select_related("group", "user").filter(pk__in=frontier)
        frontier = set()
        for profile in found:
            profiles[profile.pk] = profile
            if profile.recruited_by_id:
                frontier.add(profile.recruited_by_id)

    from rewards.services.accrual import lock_budget

    created: list[Reward] = []
    with transaction.atomic():
        budgeted = sorted(
            (p for p in programs.values() if p.reward_budget is not None), key=lambda p: p.pk
        )
        for program in budgeted:
            lock_budget(program)
        list(
            PartnerProfile.objects.select_for_update(no_key=True)
            .filter(pk__in=list(profiles))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # The correlated aggregates look costly to the planner, whose JIT then
                # compiles for a second; each of them is an index look-up.
                cursor.execute("SET LOCAL jit = off")
        fresh = _fresh_rows([c.pk for c in conversions])
        active = set(
            Enrollment.objects.filter(
                program_id__in=list(programs),
                partner_id__in=list(profiles),
                status=Enrollment.Status.ACTIVE,
            ).values_list("program_id", "partner_id")
        )
        rules: dict[Any, list[RewardRule]] = defaultdict(list)
        for r in RewardRule.objects.select_related("partner__user", "group").filter(
            program_id__in=list(programs), event=RewardRule.Event.CONVERSION, is_active=True
        ):
            rules[r.program_id].append(r)
        bonuses: dict[Any, list[BonusRule]] = defaultdict(list)
        for b in BonusRule.objects.filter(program_id__in=list(programs), is_active=True):
            bonuses[b.program_id].append(b)  # in the model's order, as accrual._bonuses
        book = fx.RateBook(
            {c.currency for c in conversions} | {p.currency for p in programs.values()}
        )
        keys = []
        for c in conversions:
            base_key = f"conversion:{c.pk}"
            keys.append(base_key)
            keys += [
                f"{base_key}:L{level}:{a.pk}"
                for level, a in _chain(c.partner, c.program.levels, profiles)  # type: ignore[arg-type]
            ]
            period = c.occurred_at.strftime("%Y-%m")
            keys += [f"bonus:{b.pk}:{c.partner_id}:{period}" for b in bonuses[c.program_id]]
        # Found through the conversion and partner indexes (a key list against the
        # tenant's whole history is what the planner may scan instead).
        bonus_keys = [k for k in keys if k.startswith("bonus:")]
        wanted = set(keys)
        existing = {
            r.key: r
            for r in Reward.objects.filter(
                Q(conversion_id__in=[c.pk for c in conversions])
                | Q(
                    partner_id__in=list({c.partner_id for c in conversions}),
                    kind=Reward.Kind.BONUS,
                    key__in=bonus_keys,
                )
            ).order_by()
            if r.key in wanted
        }
        spent = dict(
            ProgramBudget.objects.filter(program_id__in=[p.pk for p in budgeted]).values_list(
                "program_id", "spent"
            )
        )
        batch = _Batch(
            tenant_id=tenant_id,
            existing=existing,
            room={
                p.pk: max(p.reward_budget - spent.get(p.pk, ZERO), ZERO)  # type: ignore[operator]
                for p in budgeted
            },
        )
        month_added: dict[tuple[Any, Any, str], Decimal] = defaultdict(lambda: ZERO)
        claw_later: list[tuple[Reward, Conversion]] = []
        snapshots: dict[Any, dict[str, Any]] = {}  # a rule's copy, made once per batch
        for c in conversions:
            row = fresh.get(c.pk)
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
            rule = _rule_for(rules[program.pk], partner)
            if rule is None or c.amount <= 0:
                continue
            try:
                amount, fx_snapshot = book.convert(
                    c.amount, c.currency, program.currency, c.occurred_at.date()
                )
            except ValidationError:
                if strict:
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
                    made += _shares(batch, c, base, profiles, active, fx_snapshot)
                    if c.refunded_amount > 0:
                        for reward in made:
                            if reward.key in existing:
                                claw_later.append((reward, c))
                            else:
                                _claw(batch, reward, c)
                    created += made
            created += _bonuses(batch, c, bonuses[program.pk], volume)
        if batch.rewards:
            Reward.objects.bulk_create(batch.rewards)
            LedgerEntry.objects.bulk_create(batch.entries)
            touch_now(require_tenant(), {e.partner_id for e in batch.entries})
        for program_id, added in batch.spent.items():
            if added:
                ProgramBudget.objects.filter(program_id=program_id).update(spent=F("spent") + added)
        for reward, c in claw_later:  # a rerun after a refund: the rewards exist already
            clawback_apply(reward=reward, conversion=c)
    return created


def _shares(
    batch: _Batch,
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
    for level, ancestor in _chain(partner, program.levels, profiles):
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


def _claw(batch: _Batch, reward: Reward, c: Conversion) -> None:
    """``approvals.clawback_apply`` for a reward made in this batch (nothing clawed yet,
    still on hold): the refunded share so far, rounded once."""
    share = clawback_due(reward, c)
    if share <= 0:
        return
    batch.entries.append(
        LedgerEntry(
            tenant_id=batch.tenant_id,
            partner=reward.partner,
            currency=reward.currency,
            kind=LedgerEntry.Kind.CLAWBACK,
            key=f"clawback:{reward.pk}:{c.refunded_amount}",
            pending=-share,
            available=ZERO,
            processing=ZERO,
            paid=ZERO,
            reward=reward,
            memo=f"refunded {c.refunded_amount} of {c.amount}"[:300],
        )
    )


def _bonuses(batch: _Batch, c: Conversion, rules: list[BonusRule], volume: Volume) -> list[Reward]:
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
