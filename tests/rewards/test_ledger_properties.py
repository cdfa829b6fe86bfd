"""Property-based: any sequence of conversions, refunds, approvals, adjustments and
payouts leaves a ledger whose every invariant holds and where no money is created."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from programs.services.conversions import refund_record
from rewards.models import LedgerEntry, PayoutDetails, PayoutMethod, PayoutRequest, Reward
from rewards.services.approvals import clawback_refund, ledger_adjust, reward_approve
from rewards.services.ledger import balance
from rewards.services.payouts import payout_mark_paid, payout_reject, payout_request
from rewards.services.verify import verify
from tests.rewards.helpers import D, make_partner, make_program, rule, sale

amounts = st.decimals(min_value=Decimal("1"), max_value=Decimal("500"), places=2)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("sale"), amounts),
        st.tuples(st.just("refund"), st.integers(0, 20), st.integers(1, 100)),
        st.tuples(st.just("approve"), st.integers(0, 20)),
        st.tuples(st.just("adjust"), st.decimals(min_value=-50, max_value=50, places=2)),
        st.tuples(st.just("withdraw"), amounts),
        st.tuples(st.just("pay"), st.integers(0, 10)),
        st.tuples(st.just("reject_payout"), st.integers(0, 10)),
    ),
    max_size=25,
)


class Rollback(Exception):
    pass


@pytest.fixture
def world(in_acme, owner):
    program = make_program(in_acme)
    rule(program, value=D("10"))
    alice = make_partner(in_acme, program, "ALICE")
    method = PayoutMethod.objects.create(
        tenant=in_acme, kind="card", name="Card", currency="USD", fee_percent=D("1.5")
    )
    PayoutDetails.objects.create(
        tenant=in_acme, partner=alice, method=method, encrypted="x", masked="•••• 1111"
    )
    return in_acme, program, alice, method, owner


def run(world, sequence):
    tenant, program, alice, method, owner = world
    conversions, payouts = [], []
    for i, step in enumerate(sequence):
        kind = step[0]
        try:
            if kind == "sale":
                conversions.append(sale(program, alice, str(step[1])))
            elif kind == "refund" and conversions:
                conversion = conversions[step[1] % len(conversions)]
                conversion.refresh_from_db()
                left = conversion.amount - conversion.refunded_amount
                part = (left * step[2] / 100).quantize(Decimal("0.01"))
                if part > 0:
                    r, _ = refund_record(
                        tenant=tenant, conversion=conversion, external_id=f"r{i}", amount=part
                    )
                    clawback_refund(refund_id=str(r.pk))
            elif kind == "approve" and conversions:
                conversion = conversions[step[1] % len(conversions)]
                for reward in Reward.objects.filter(conversion=conversion, status="pending"):
                    reward_approve(reward=reward)
            elif kind == "adjust" and step[1] != 0:
                ledger_adjust(
                    tenant=tenant,
                    partner=alice,
                    currency="USD",
                    amount=step[1],
                    kind="adjustment",
                    reason="test",
                    actor=owner,
                    key=f"adj{i}",
                )
            elif kind == "withdraw":
                payouts.append(
                    payout_request(tenant=tenant, partner=alice, method=method, amount=step[1])
                )
            elif kind == "pay" and payouts:
                payout = payouts[step[1] % len(payouts)]
                PayoutRequest.objects.filter(pk=payout.pk, status="requested").update(
                    status="approved"
                )
                payout_mark_paid(payout=PayoutRequest.objects.get(pk=payout.pk), actor=None)
            elif kind == "reject_payout" and payouts:
                payout = payouts[step[1] % len(payouts)]
                payout_reject(
                    payout=PayoutRequest.objects.get(pk=payout.pk), actor=None, reason="no"
                )
        except ValidationError:
            pass  # refused by a rule (overdraw, wrong state): must leave no trace
    return alice


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=steps)
def test_the_ledger_invariants_hold_for_any_sequence(world, sequence):
    try:
        with transaction.atomic():
            alice = run(world, sequence)
            assert verify() == []
            b = balance(alice, "USD")
            assert b.pending >= 0 and b.processing >= 0 and b.paid >= 0
            # No money from nowhere: what the partner has in all four balances is what
            # was accrued and adjusted, minus what was clawed back, rejected and charged.
            sums = {
                row["kind"]: row["total"]
                for row in LedgerEntry.objects.values("kind")
                .annotate(total=Sum("pending") + Sum("available") + Sum("processing") + Sum("paid"))
                .order_by()
            }
            moved = sum(sums.values(), Decimal(0))
            accrued = Reward.objects.aggregate(t=Sum("amount"))["t"] or Decimal(0)
            expected = (
                accrued
                + sums.get("adjustment", 0)
                + sums.get("clawback", 0)
                + sums.get("rejection", 0)
                + sums.get("fee", 0)
            )
            assert moved == expected
            assert b.earned == moved
            # An overdraw is impossible: whatever is requested was available.
            assert all(p.amount > 0 for p in PayoutRequest.objects.all())
            raise Rollback
    except Rollback:
        pass
