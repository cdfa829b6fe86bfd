"""The set-based accrual engine: rewards for a batch of conversions in one transaction.

A fixed number of statements per batch, whatever its size: the conversions with their
program, partner and group in one query; the upline one query per level; the
conversions' partners locked (in one statement, by primary key, so batches and single
accruals never deadlock); the fresh amounts, month volumes and customer histories in one
query of correlated aggregates; enrollments, rules, bonus rules, exchange rates and
existing reward keys in one query each; then the rewards are computed in Python in
``occurred_at`` order (month volumes advanced as rewards are made) and written with two
multi-row inserts. A budgeted program's running total is charged last, with one
conditional update (``services.budget``); only a batch that would overrun the budget
works its rewards out again, capped reward by reward under the total's lock.

It computes exactly what the per-conversion engine did (``tests/rewards/
_reference_accrual.py`` keeps it; the differential test compares both to the cent). The
single-conversion job ``accrual.accrue_conversion`` is this engine with a batch of one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, Count, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, TruncMonth

from partners.models import PartnerProfile
from prm.tenancy import require_tenant
from programs.analytics.refresh import touch_now
from programs.models import Conversion, Enrollment, Program
from rewards.models import BonusRule, LedgerEntry, Reward, RewardRule
from rewards.services import fx
from rewards.services.accrual_compute import (
    BatchInputs,
    BatchRewards,
    compute_rewards,
    upline_chain,
)
from rewards.services.approvals import clawback_apply
from rewards.services.budget import (
    UNBOUNDED,
    budget_add,
    budget_charge,
    budget_ensure,
    budget_lock_rooms,
)
from rewards.services.bulk_insert import bulk_insert, bulk_insert_rows
from rewards.signals import ledger_moved, rewards_changed

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


def _depth(program: Program) -> int:
    """The deepest level that can pay in ``program``."""
    return min(program.levels, len(program.level_percents or []) + 1)


# The columns the batch reads (the rest, such as a conversion's attribution, would only
# be parsed into model instances to be thrown away).
_CONVERSION_FIELDS = (
    "tenant",
    "program",
    "partner",
    "kind",
    "amount",
    "currency",
    "refunded_amount",
    "occurred_at",
)
_PARTNER_FIELDS = (
    "tenant",
    "status",
    "display_name",  # with the user's e-mail: str(partner), in upline shares' memos
    "user__email",
    "group",
    "recruited_by",
)


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
        for c in Conversion.objects.select_related("partner", "partner__group", "partner__user")
        .only(*_CONVERSION_FIELDS, *(f"partner__{f}" for f in _PARTNER_FIELDS))
        .filter(pk__in=ids, partner__isnull=False)
        .order_by("occurred_at", "pk")
        if c.amount > 0
    ]
    if not conversions:
        return []
    tenant_id = conversions[0].tenant_id
    programs = Program.objects.in_bulk({c.program_id for c in conversions})
    for c in conversions:
        c.program = programs[c.program_id]
    profiles: dict[Any, PartnerProfile] = {c.partner_id: c.partner for c in conversions}  # type: ignore[misc]
    # The upline, one query per level.
    depth = max(_depth(p) for p in programs.values())
    frontier = {p.recruited_by_id for p in profiles.values() if p.recruited_by_id}
    for _level in range(2, depth + 1):
        frontier -= set(profiles)
        if not frontier:
            break
        found = (
            PartnerProfile.objects.select_related("group", "user")
            .only(*_PARTNER_FIELDS)
            .filter(pk__in=frontier)
        )
        frontier = set()
        for profile in found:
            profiles[profile.pk] = profile
            if profile.recruited_by_id:
                frontier.add(profile.recruited_by_id)

    created: list[Reward] = []
    with transaction.atomic():
        budgeted = sorted(
            (p for p in programs.values() if p.reward_budget is not None), key=lambda p: p.pk
        )
        for program in budgeted:
            budget_ensure(program)
        # The conversions' partners, whose month (caps, tiers, bonuses) and refunds the
        # batch reads; their recruiters' shares read nothing of theirs, so recruiters are
        # not locked (as the per-conversion engine never locked them), and batches of
        # other partners do not wait on them.
        list(
            PartnerProfile.objects.select_for_update(no_key=True)
            .filter(pk__in=list({c.partner_id for c in conversions}))
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
                for level, a in upline_chain(c.partner, c.program.levels, profiles)  # type: ignore[arg-type]
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
        inputs = BatchInputs(
            tenant_id=tenant_id,
            conversions=conversions,
            fresh=fresh,
            active=active,
            rules=rules,
            bonuses=bonuses,
            book=book,
            existing=existing,
            profiles=profiles,
            strict=strict,
        )
        # Worked out as if no budget ran out; charged at the end (see services.budget).
        batch, created, claw_later = compute_rewards(inputs, {p.pk: UNBOUNDED for p in budgeted})
        found = _verdicts(batch, [c.pk for c in conversions])
        rejected = _apply_verdicts(batch, found)
        if not _write(batch, budgeted):
            # Some budget runs out within the batch: cap reward by reward under its lock.
            batch, created, claw_later = compute_rewards(inputs, budget_lock_rooms(budgeted))
            rejected = _apply_verdicts(batch, found)
            _write(batch, [])
            budget_add(budgeted, batch.spent)
        if batch.rewards:
            from prm.notifications import events

            # Only rewards inserted now: a batch run again announces nothing.
            events.rewards_created(tenant=require_tenant(), rewards=batch.rewards)
            from prm.webhooks.events import emit as webhook_emit

            # One cache read when nobody listens; else one insert and one job a batch.
            webhook_emit(require_tenant(), "reward.created", batch.rewards)
            touch_now(require_tenant(), {row["partner_id"] for row in batch.entries})
            rewards_changed.send(
                sender=Reward,
                tenant_id=require_tenant().pk,
                reward_ids=[r.pk for r in batch.rewards],
            )
            ledger_moved.send(
                sender=Reward,
                tenant_id=require_tenant().pk,
                partner_ids=sorted({row["partner_id"] for row in batch.entries}),
            )
        for reason, reward_ids in rejected.items():
            from antifraud.services.holds import reject_rewards

            reject_rewards(Reward.objects.filter(pk__in=reward_ids), reason=reason)
        for reward, c in claw_later:  # a rerun after a refund: the rewards exist already
            clawback_apply(reward=reward, conversion=c)
    return created


def _verdicts(batch: BatchRewards, conversion_ids: list[Any]) -> dict[Any, Any]:
    """The antifraud verdicts of the batch's conversions already scored (one query,
    under the partners' locks that scoring takes before it holds: whichever of scoring
    and accrual runs second sees the other's rows)."""
    from antifraud.services.verdicts import verdicts

    if not batch.rewards:
        return {}
    return verdicts(conversion_ids=conversion_ids)


def _apply_verdicts(batch: BatchRewards, found: dict[Any, Any]) -> dict[str, list[Any]]:
    """New rewards of conversions scored at review are born held (flagged, with their
    hold entry); those at reject are returned (reason → ids) to be rejected once
    inserted."""
    from antifraud.services.holds import HOLD_MEMO
    from antifraud.services.verdicts import HOLD

    rejected: dict[str, list[Any]] = defaultdict(list)
    for reward in batch.rewards:
        verdict = found.get(reward.conversion_id)
        if verdict is None:
            continue
        if verdict.action == HOLD:
            reward.flagged = True
            batch.entries.append(
                {
                    "tenant_id": batch.tenant_id,
                    "partner_id": reward.partner_id,
                    "currency": reward.currency,
                    "kind": LedgerEntry.Kind.HOLD,
                    "key": f"hold:{reward.pk}",
                    "reward_id": reward.pk,
                    "memo": HOLD_MEMO,
                }
            )
        else:
            rejected[verdict.reason].append(reward.pk)
    return rejected


def _write(batch: BatchRewards, budgeted: list[Program]) -> bool:
    """Insert the batch's rewards and entries and charge ``budgeted`` programs' totals;
    False, with nothing written, if a charge would overrun a budget."""
    if not batch.rewards:
        return True
    if not budgeted:
        bulk_insert(Reward, batch.rewards)
        bulk_insert_rows(LedgerEntry, batch.entries)
        return True
    with transaction.atomic():  # a savepoint: an overrunning charge undoes the inserts
        bulk_insert(Reward, batch.rewards)
        bulk_insert_rows(LedgerEntry, batch.entries)
        if budget_charge(budgeted, batch.spent):
            return True
        transaction.set_rollback(True)
    return False
