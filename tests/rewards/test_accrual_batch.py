"""The set-based accrual and approval engines against the per-item ones they replaced.

A differential test: random programs, groups, rules (tiers, caps, minimum orders,
new-customers-only, first / first-N subscription payments), bonuses, upline chains, a
budget, a second currency with rates both ways, refunds before accrual and a blocked
partner; the reference engine (``_reference_accrual``) runs conversion by conversion in
``occurred_at`` order on one copy, the batch engine on another (a savepoint rolled back
between them), and every reward and ledger entry must agree to the cent.
"""

from __future__ import annotations

import contextlib
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from antifraud.services.scoring import score_conversions
from partners.models import PartnerProfile
from programs.models import Conversion, Enrollment
from rewards.models import (
    BonusRule,
    ExchangeRate,
    LedgerEntry,
    PartnerGroup,
    PayoutDetails,
    PayoutMethod,
    PayoutRequest,
    ProgramBudget,
    Reward,
    RewardRule,
)
from rewards.services.accrual import accrue_conversion
from rewards.services.accrual_batch import accrue_conversions
from rewards.services.approvals import approve_due, remaining, reward_approve, reward_hold
from rewards.services.ledger import balance
from rewards.services.payouts import payout_request, scheduled_payouts
from tests.rewards import _reference_accrual as reference
from tests.rewards.helpers import D, make_partner, make_program, rule

START = datetime(2026, 3, 20, tzinfo=UTC)


def _world(tenant: Any, rnd: random.Random) -> list[Any]:
    """Random programs, partners, rules and conversions; returns the conversion ids in
    ``occurred_at`` order (the order jobs would run them in)."""
    usd = make_program(tenant, name="USD", levels=3, level_percents=[10, 5])
    eur = make_program(tenant, name="EUR", currency="EUR", levels=2, level_percents=[7])
    budget = make_program(
        tenant, name="Budget", reward_budget=D(rnd.choice(["250", "400", "600"])), hold_days=10
    )
    programs = [usd, eur, budget]
    for day, rate in ((0, "1.08"), (25, "1.11"), (40, "1.0937")):
        ExchangeRate.objects.create(
            tenant=tenant,
            base="EUR",
            quote="USD",
            rate=D(rate),
            valid_from=START.date() - timedelta(days=30 - day),
        )
    # BRL → USD only as USD → BRL: the inverse rate is used.
    ExchangeRate.objects.create(
        tenant=tenant,
        base="USD",
        quote="BRL",
        rate=D("5.0731"),
        valid_from=START.date() - timedelta(days=60),
    )
    ExchangeRate.objects.create(
        tenant=tenant,
        base="BRL",
        quote="EUR",
        rate=D("0.17321"),
        valid_from=START.date() - timedelta(days=60),
    )
    vip = PartnerGroup.objects.create(tenant=tenant, name="VIP", hold_days=rnd.choice([None, 5]))
    pro = PartnerGroup.objects.create(tenant=tenant, name="Pro")
    partners: list[PartnerProfile] = []
    for n in range(6):
        group = rnd.choice([None, vip, pro])
        p = make_partner(tenant, usd, f"PART{n}", group=group)
        for program in (eur, budget):
            Enrollment.objects.create(
                tenant=tenant,
                program=program,
                partner=p,
                code=f"{program.name}-{n}",
                status=rnd.choice([Enrollment.Status.ACTIVE] * 4 + [Enrollment.Status.PENDING]),
            )
        if partners:  # a chain three deep, then random recruiters
            p.recruited_by = partners[-1] if n <= 3 else rnd.choice(partners)
            p.save(update_fields=["recruited_by"])
        partners.append(p)
    blocked = rnd.choice(partners[1:])
    blocked.status = PartnerProfile.Status.BLOCKED
    blocked.save(update_fields=["status"])
    tiers = [{"min_conversions": 3, "value": "25"}, {"min_revenue": "400", "value": "30"}]
    rule(usd, value=D("20"), tiers=tiers, cap_per_partner_month=D(rnd.choice(["60", "150"])))
    rule(
        usd,
        group=vip,
        value=D("12"),
        kind=RewardRule.Kind.FIXED,
        recurring=RewardRule.Recurring.FIRST_N,
        recurring_count=2,
        min_order_amount=D("20"),
    )
    rule(
        usd,
        partner=partners[2],
        value=D("33"),
        cap_per_conversion=D("17.50"),
        new_customers_only=True,
    )
    rule(eur, value=D("10"), recurring=RewardRule.Recurring.FIRST, min_order_amount=D("15"))
    rule(eur, group=pro, value=D("15.5"), tiers=[{"min_conversions": 2, "value": "18"}])
    rule(budget, value=D("12"))
    BonusRule.objects.create(
        tenant=tenant,
        program=usd,
        metric=BonusRule.Metric.CONVERSIONS,
        threshold=D("3"),
        amount=D("9.99"),
    )
    BonusRule.objects.create(
        tenant=tenant,
        program=usd,
        group=vip,
        metric=BonusRule.Metric.REVENUE,
        threshold=D("250"),
        amount=D("20"),
    )
    BonusRule.objects.create(
        tenant=tenant,
        program=budget,
        metric=BonusRule.Metric.CONVERSIONS,
        threshold=D("2"),
        amount=D("15"),
    )
    rows = []
    at = START
    for n in range(100):
        program = rnd.choice(programs)
        if rnd.random() > 0.15:  # else the same instant as the previous one
            at = at + timedelta(hours=rnd.choice([1, 3, 12, 24]))
        currency = (
            program.currency
            if rnd.random() < 0.6
            else rnd.choice(["USD", "EUR", "BRL", "BRL"] * 3 + ["GBP"])
        )
        amount = D(
            rnd.choice(["0", "9.99", "19.95", "50", "100.05", "149.90", "333.33", "87.10", "250"])
        )
        refunded = D("0")
        roll = rnd.random()
        if roll < 0.1:
            refunded = amount
        elif roll < 0.35:
            refunded = (amount * D(str(rnd.choice([0.1, 0.33, 0.5])))).quantize(D("0.01"))
        rows.append(
            Conversion(
                tenant=tenant,
                program=program,
                partner=rnd.choice(partners + [None]),
                external_id=f"o-{n}",
                status=Conversion.Status.ATTRIBUTED,
                kind=rnd.choice([Conversion.Kind.SALE] * 2 + [Conversion.Kind.SUBSCRIPTION]),
                amount=amount,
                currency=currency,
                refunded_amount=refunded,
                customer_email=rnd.choice(["", "a@x.test", "b@x.test"] + [f"{n}@x.test"] * 3),
                customer_external_id=rnd.choice(["", "", "cust-1"]),
                occurred_at=at,
            )
        )
    Conversion.objects.bulk_create(rows)
    return list(Conversion.objects.order_by("occurred_at", "pk").values_list("pk", flat=True))


def _state() -> dict[str, Any]:
    """Every reward and ledger entry, keyed by what does not depend on the run."""
    rewards = {
        r.key: (
            r.partner_id,
            r.kind,
            r.level,
            r.amount,
            r.status,
            r.available_at,
            r.rule,
            r.conversion_id,
        )
        for r in Reward.objects.all()
    }
    entries = {}
    for e in LedgerEntry.objects.select_related("reward"):
        key = e.key.replace(str(e.reward_id), e.reward.key) if e.reward_id else e.key
        entries[key] = (
            e.partner_id,
            e.currency,
            e.kind,
            e.pending,
            e.available,
            e.memo,
            e.fx,
            e.rule,
        )
    budgets = dict(ProgramBudget.objects.values_list("program_id", "spent"))
    return {"rewards": rewards, "entries": entries, "budgets": budgets}


def _in_savepoint(run: Any) -> dict[str, Any]:
    with transaction.atomic():
        run()
        state = _state()
        transaction.set_rollback(True)
    return state


@pytest.mark.parametrize("seed", [1, 2])
def test_the_batch_engine_agrees_with_the_per_conversion_engine(in_acme, seed):
    rnd = random.Random(seed)
    ids = _world(in_acme, rnd)
    # Some history first (month volumes, caps and the budget's running total see it).
    history, rest = ids[: len(ids) // 3], ids[len(ids) // 3 :]
    for pk in history:
        with contextlib.suppress(ValidationError):
            reference.accrue_conversion(conversion_id=str(pk))

    def one_by_one(accrue: Any = reference.accrue_conversion) -> None:
        for pk in rest:
            try:
                accrue(conversion_id=str(pk))
            except ValidationError:  # no GBP rate: the job fails (and is retried)
                continue

    def in_chunks() -> None:
        n = 0
        while n < len(rest):
            size = rnd.choice([1, 3, 8, 50])
            accrue_conversions(rest[n : n + size])
            n += size

    expected = _in_savepoint(one_by_one)
    assert len(expected["rewards"]) > len(history) // 2  # the world pays something
    assert _in_savepoint(lambda: accrue_conversions(rest)) == expected
    assert _in_savepoint(in_chunks) == expected
    assert _in_savepoint(lambda: one_by_one(accrue_conversion)) == expected
    kinds = {v[2] for v in expected["entries"].values()}
    assert {LedgerEntry.Kind.ACCRUAL, LedgerEntry.Kind.CLAWBACK} <= kinds


def test_a_batch_run_twice_creates_nothing_new(in_acme):
    ids = _world(in_acme, random.Random(7))
    accrue_conversions(ids)
    before = _state()
    assert accrue_conversions(ids) is not None
    assert _state() == before
    assert before["rewards"]


def test_statements_per_batch_do_not_grow_with_its_size(in_acme):
    ids = _world(in_acme, random.Random(11))
    # Same programs and levels in both batches: the count depends on neither's size.
    small, large = ids[:5], ids[5:]
    counts = []
    for batch in (small, large):
        with CaptureQueriesContext(connection) as queries:
            accrue_conversions(batch)
        counts.append(len(queries))
    assert counts[1] <= counts[0] + 3, counts  # a deeper upline costs a query per level
    assert counts[1] <= 25, counts


def _approve_one_by_one() -> int:
    """``approve_due`` as it was: each due reward through ``reward_approve``."""
    approved = 0
    due = Reward.objects.select_related("tenant", "partner").filter(
        status=Reward.Status.PENDING, flagged=False, available_at__lte=timezone.now()
    )
    for reward in due.order_by("available_at"):
        threshold = reward.tenant.manual_approval_above
        if threshold is not None and remaining(reward) > threshold:
            continue
        try:
            reward_approve(reward=reward)
        except ValidationError:
            continue
        approved += 1
    return approved


@pytest.mark.parametrize("seed", [5, 6])
def test_batch_approvals_agree_with_approving_one_by_one(in_acme, seed):
    rnd = random.Random(seed)
    ids = _world(in_acme, rnd)
    accrue_conversions(ids)
    score_conversions(ids)  # the antifraud job: unscored rewards never approve
    rewards = list(Reward.objects.order_by("key"))
    for reward in rnd.sample(rewards, len(rewards) // 5):
        reward_hold(reward=reward, reason="review")
    Reward.objects.filter(pk__in=[r.pk for r in rewards[::2]]).update(
        available_at=timezone.now() - timedelta(days=1)
    )
    in_acme.manual_approval_above = D("20")
    in_acme.save()
    counts = {}

    def old() -> None:
        counts["old"] = _approve_one_by_one()

    def new() -> None:
        counts["new"] = approve_due(batch=7)

    assert _in_savepoint(new) == _in_savepoint(old)
    assert counts["new"] == counts["old"] > 0


def _scheduled_one_by_one(today: Any) -> int:
    """``scheduled_payouts`` as it was: each partner through ``payout_request``."""
    created = 0
    for method in PayoutMethod.objects.all():
        for details in PayoutDetails.objects.filter(method=method).select_related("partner"):
            partner = details.partner
            if partner.status != PartnerProfile.Status.ACTIVE:
                continue
            available = balance(partner, method.currency).available
            already = PayoutRequest.objects.filter(
                partner=partner, method=method, scheduled=True, created_at__date=today
            ).exists()
            if already or available < max(method.minimum, D("0.01")):
                continue
            try:
                payout_request(
                    tenant=method.tenant,
                    partner=partner,
                    method=method,
                    amount=available,
                    scheduled=True,
                )
            except ValidationError:
                continue
            created += 1
    return created


def test_batch_scheduled_payouts_agree_with_requesting_one_by_one(in_acme):
    rnd = random.Random(8)
    ids = _world(in_acme, rnd)
    accrue_conversions(ids)
    Reward.objects.update(available_at=timezone.now() - timedelta(days=1))
    approve_due()
    for currency, minimum in (("USD", "30"), ("EUR", "5")):
        method = PayoutMethod.objects.create(
            tenant=in_acme,
            kind="card",
            name=f"Card {currency}",
            currency=currency,
            minimum=D(minimum),
            fee_percent=D("1"),
            fee_fixed=D("4"),
            schedule="monthly",
        )
        for partner in PartnerProfile.objects.order_by("pk")[1:]:
            PayoutDetails.objects.create(
                tenant=in_acme, partner=partner, method=method, encrypted="x", masked="•••• 4242"
            )
    first = timezone.localdate().replace(day=1)
    counts = {}

    def old() -> None:
        counts["old"] = _scheduled_one_by_one(first)

    def new() -> None:
        counts["new"] = scheduled_payouts(today=first, batch=2)

    def payouts() -> set[Any]:
        return set(
            PayoutRequest.objects.values_list("partner_id", "method_id", "amount", "fee", "status")
        )

    states = []
    for run in (old, new):
        with transaction.atomic():
            run()
            ledger = {
                (e.partner_id, e.kind, e.available, e.processing)
                for e in LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYOUT)
            }
            states.append((payouts(), ledger))
            transaction.set_rollback(True)
    assert states[0] == states[1]
    assert counts["new"] == counts["old"] > 0
