"""Holds, approvals, clawbacks, corrections and payouts on the ledger."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import DatabaseError, transaction
from django.utils import timezone

from programs.models import Conversion
from programs.services.conversions import refund_record
from rewards.models import LedgerEntry, PayoutDetails, PayoutMethod, PayoutRequest, Reward
from rewards.services.approvals import (
    approve_due,
    clawback_refund,
    ledger_adjust,
    reward_approve,
    reward_hold,
    reward_reject,
)
from rewards.services.ledger import balance
from rewards.services.payouts import (
    payout_approve,
    payout_mark_paid,
    payout_reject,
    payout_request,
    scheduled_payouts,
)
from rewards.services.verify import verify
from tests.rewards.helpers import D, available, make_partner, make_program, pending, rule, sale


@pytest.fixture
def program(in_acme):
    p = make_program(in_acme, hold_days=30)
    rule(p, value=D("10"))
    return p


@pytest.fixture
def alice(in_acme, program):
    return make_partner(in_acme, program, "ALICE")


@pytest.fixture
def card(in_acme, alice):
    method = PayoutMethod.objects.create(
        tenant=in_acme,
        kind="card",
        name="Card",
        currency="USD",
        fee_fixed=D("1.00"),
        fee_percent=D("2"),
        minimum=D("20"),
    )
    PayoutDetails.objects.create(
        tenant=in_acme, partner=alice, method=method, encrypted="secret", masked="•••• 4242"
    )
    return method


def due(reward):
    Reward.objects.filter(pk=reward.pk).update(available_at=timezone.now() - timedelta(seconds=1))


def refund(conversion, amount, ref):
    r, _ = refund_record(
        tenant=conversion.tenant,
        conversion=conversion,
        external_id=ref,
        amount=D(amount) if amount else None,
    )
    clawback_refund(refund_id=str(r.pk))
    conversion.refresh_from_db()


def earn(program, partner, amount="1000"):
    """A sale whose reward is approved at once: 10 % of ``amount`` becomes available."""
    conversion = sale(program, partner, amount)
    reward = Reward.objects.get(conversion=conversion, level=1)
    reward_approve(reward=reward)
    return conversion, reward


def test_rewards_wait_for_the_hold_then_are_approved_automatically(program, alice):
    conversion = sale(program, alice, "100")
    reward = Reward.objects.get(conversion=conversion)
    assert approve_due() == 0  # still on hold
    due(reward)
    assert approve_due() == 1
    assert (pending(alice), available(alice)) == (D("0"), D("10.00"))
    assert verify() == []


def test_flagged_and_large_rewards_wait_for_a_person(in_acme, program, alice):
    in_acme.manual_approval_above = D("50")
    in_acme.save()
    small = Reward.objects.get(conversion=sale(program, alice, "100"))
    big = Reward.objects.get(conversion=sale(program, alice, "1000"))
    flagged = Reward.objects.get(conversion=sale(program, alice, "200"))
    reward_hold(reward=flagged, reason="same IP as the partner")
    for r in (small, big, flagged):
        due(r)
    assert approve_due() == 1
    assert LedgerEntry.objects.filter(kind="hold", reward=flagged).exists()
    reward_approve(reward=big, actor=None, reason="checked")
    reward_reject(reward=flagged, actor=None, reason="self-referral")
    flagged.refresh_from_db()
    assert flagged.reason == "self-referral"
    assert (pending(alice), available(alice)) == (D("0"), D("110.00"))
    with pytest.raises(ValidationError):
        reward_approve(reward=flagged)  # decided already
    assert verify() == []


def test_a_partial_refund_claws_back_pro_rata_from_a_pending_reward(program, alice):
    conversion = sale(program, alice, "100")
    refund(conversion, "25", "r1")
    assert pending(alice) == D("7.50")
    refund(conversion, "25", "r1")  # the same refund again changes nothing
    assert pending(alice) == D("7.50")
    reward = Reward.objects.get(conversion=conversion)
    due(reward)
    approve_due()
    assert available(alice) == D("7.50")
    assert verify() == []


def test_refunds_in_thirds_claw_back_to_the_last_cent(program, alice):
    conversion = sale(program, alice, "100")
    for i in range(2):
        refund(conversion, "33.33", f"r{i}")
    refund(conversion, None, "rest")
    assert conversion.status == Conversion.Status.REFUNDED
    assert pending(alice) == D("0")
    reward = Reward.objects.get(conversion=conversion)
    due(reward)
    approve_due()
    reward.refresh_from_db()
    assert reward.status == Reward.Status.REJECTED  # nothing left to approve
    assert verify() == []


def test_a_refund_after_payout_becomes_a_negative_balance_netted_later(program, alice, card, owner):
    conversion, _ = earn(program, alice, "1000")  # 100 available
    payout = payout_request(tenant=program.tenant, partner=alice, method=card, amount=D("100"))
    payout_approve(payout=payout, actor=owner)
    payout_mark_paid(payout=payout, actor=owner)
    refund(conversion, None, "full")
    b = balance(alice, "USD")
    assert (b.available, b.paid) == (D("-100.00"), D("97.00"))
    earn(program, alice, "1500")  # +150, netted
    assert available(alice) == D("50.00")
    with pytest.raises(ValidationError):
        payout_request(tenant=program.tenant, partner=alice, method=card, amount=D("60"))
    assert verify() == []


def test_a_payout_from_request_to_paid_with_its_fee(program, alice, card, owner):
    earn(program, alice, "1000")
    payout = payout_request(tenant=program.tenant, partner=alice, method=card, amount=D("80"))
    assert payout.fee == D("2.60")  # 1 + 2 %
    b = balance(alice, "USD")
    assert (b.available, b.processing) == (D("20.00"), D("80.00"))
    payout_approve(payout=payout, actor=owner)
    payout_mark_paid(payout=payout, actor=owner, provider_ref="manual")
    b = balance(alice, "USD")
    assert (b.available, b.processing, b.paid) == (D("20.00"), D("0.00"), D("77.40"))
    with pytest.raises(ValidationError):
        payout_mark_paid(payout=payout, actor=None)  # never paid twice
    assert verify() == []


def test_a_rejected_payout_returns_the_money(program, alice, card):
    earn(program, alice, "1000")
    payout = payout_request(tenant=program.tenant, partner=alice, method=card, amount=D("50"))
    payout_reject(payout=payout, actor=None, reason="details do not match the name")
    assert balance(alice, "USD").available == D("100.00")
    payout.refresh_from_db()
    assert payout.reason == "details do not match the name"
    assert verify() == []


def test_withdrawals_respect_the_minimum_and_the_balance(program, alice, card):
    earn(program, alice, "300")  # 30 available
    with pytest.raises(ValidationError):
        payout_request(tenant=program.tenant, partner=alice, method=card, amount=D("10"))
    with pytest.raises(ValidationError):
        payout_request(tenant=program.tenant, partner=alice, method=card, amount=D("30.01"))
    payout_request(tenant=program.tenant, partner=alice, method=card, amount=D("30"))


def test_adjustments_and_penalties_need_a_reason_and_are_audited(in_acme, program, alice, owner):
    from prm.models import AuditEntry

    ledger_adjust(
        tenant=in_acme,
        partner=alice,
        currency="USD",
        amount=D("15"),
        kind="adjustment",
        reason="goodwill",
        actor=owner,
        key="adj-1",
    )
    ledger_adjust(
        tenant=in_acme,
        partner=alice,
        currency="USD",
        amount=D("5"),
        kind="penalty",
        reason="spam",
        actor=owner,
        key="pen-1",
    )
    assert available(alice) == D("10.00")
    assert AuditEntry.objects.filter(action__startswith="ledger.").count() == 2
    with pytest.raises(ValidationError):
        ledger_adjust(
            tenant=in_acme,
            partner=alice,
            currency="USD",
            amount=D("1"),
            kind="adjustment",
            reason=" ",
            actor=owner,
            key="adj-2",
        )


def test_scheduled_payouts_request_balances_above_the_minimum(program, alice, card):
    card.schedule = PayoutMethod.Schedule.MONTHLY
    card.save()
    earn(program, alice, "500")  # 50 available
    assert scheduled_payouts(today=timezone.localdate().replace(day=2)) == 0
    first = timezone.localdate().replace(day=1)
    assert scheduled_payouts(today=first) == 1
    assert scheduled_payouts(today=first) == 0  # once a day
    assert PayoutRequest.objects.get().amount == D("50.00")


def test_the_ledger_refuses_updates_even_to_a_superuser(program, alice):
    # Deletes and TRUNCATE, refused to the application's role: test_ledger_append_only.
    sale(program, alice, "100")
    entry = LedgerEntry.objects.get()
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(pending=Decimal("1000"))


def test_the_verify_command_reports_mismatches(program, alice, capsys):
    conversion = sale(program, alice, "100")
    call_command("rewards_verify")
    assert "no mismatch" in capsys.readouterr().out
    # A reward whose amount no longer matches its accrual (as a bug would leave it).
    Reward.objects.filter(conversion=conversion).update(amount=D("11"))
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("rewards_verify")
    assert "accrual 10.00 != 11.00" in capsys.readouterr().out
