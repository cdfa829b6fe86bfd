"""Refunds whatever the order of the jobs, clawbacks with no rounding drift, one rounding
per amount, sales of zero and conversions in a currency with no rate yet."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from programs.models import Conversion
from programs.services.conversions import refund_record
from rewards.models import ExchangeRate, LedgerEntry, Reward
from rewards.services.accrual import accrue_conversion
from rewards.services.approvals import clawback_refund
from rewards.services.ledger import money
from rewards.services.verify import verify
from tests.rewards.helpers import D, make_partner, make_program, pending, rule, sale


@pytest.fixture
def program(in_acme):
    p = make_program(in_acme, hold_days=30)
    rule(p, value=D("10"))
    return p


@pytest.fixture
def alice(in_acme, program):
    return make_partner(in_acme, program, "ALICE")


def refund(conversion: Conversion, amount: str | None, ref: str, *, run_job: bool = True):
    record, _ = refund_record(
        tenant=conversion.tenant,
        conversion=conversion,
        external_id=ref,
        amount=D(amount) if amount else None,
    )
    if run_job:
        clawback_refund(refund_id=str(record.pk))
    conversion.refresh_from_db()
    return record


def clawed(reward: Reward) -> Decimal:
    sums = LedgerEntry.objects.filter(reward=reward, kind=LedgerEntry.Kind.CLAWBACK).aggregate(
        p=Sum("pending"), a=Sum("available")
    )
    return -((sums["p"] or D(0)) + (sums["a"] or D(0)))


def test_a_full_refund_before_the_accrual_leaves_nothing_to_pay(program, alice):
    conversion = sale(program, alice, "100", accrue=False)
    record = refund(conversion, None, "r1", run_job=False)
    clawback_refund(refund_id=str(record.pk))  # finds no reward yet
    accrue_conversion(conversion_id=str(conversion.pk))  # e.g. retried after a rate came
    assert pending(alice) == D("0.00")
    assert verify() == []


@pytest.mark.parametrize("clawback_first", [True, False])
def test_a_partial_refund_takes_its_share_whichever_job_runs_first(program, alice, clawback_first):
    conversion = sale(program, alice, "100", accrue=False)
    record = refund(conversion, "30", "r1", run_job=False)
    jobs = [
        lambda: clawback_refund(refund_id=str(record.pk)),
        lambda: accrue_conversion(conversion_id=str(conversion.pk)),
    ]
    for job in jobs if clawback_first else reversed(jobs):
        job()
    for job in jobs:  # delivered twice: nothing changes
        job()
    reward = Reward.objects.get(conversion=conversion)
    assert reward.amount == D("10.00") and clawed(reward) == D("3.00")
    assert pending(alice) == D("7.00")
    assert verify() == []


def test_ten_refunds_of_five_cents_claw_back_five_cents(program, alice):
    conversion = sale(program, alice, "100.00")
    for i in range(10):
        refund(conversion, "0.05", f"r{i}")
    reward = Reward.objects.get(conversion=conversion)
    assert clawed(reward) == D("0.05")
    assert verify() == []


def test_a_two_cent_reward_is_not_over_clawed_by_partial_refunds(in_acme, alice):
    program = make_program(in_acme, name="Tiny", hold_days=30)
    rule(program, kind="fixed", value=D("0.02"))
    partner = make_partner(in_acme, program, "TINY")
    conversion = sale(program, partner, "3.00")
    reward = Reward.objects.get(conversion=conversion)
    refund(conversion, "1.00", "r1")
    refund(conversion, "1.00", "r2")
    assert clawed(reward) == money(D("0.02") * 2 / 3) == D("0.01")
    refund(conversion, None, "r3")
    assert clawed(reward) == D("0.02")
    assert verify() == []


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    amount=st.decimals(min_value=D("0.10"), max_value=D("999.99"), places=2),
    percent=st.sampled_from([D("1"), D("3.33"), D("10"), D("12.5")]),
    refunds=st.lists(st.integers(1, 40), min_size=1, max_size=8),
    accrue_late=st.booleans(),
)
def test_clawbacks_equal_the_pro_rata_share_after_every_refund(
    in_acme, amount, percent, refunds, accrue_late
):
    """Refunds as percentages of what is left; two upline levels share the reward."""
    with transaction.atomic():
        sid = transaction.savepoint()
        program = make_program(in_acme, name="P", hold_days=30, levels=3, level_percents=[50, 10])
        rule(program, value=percent)
        top = make_partner(in_acme, program, "TOP")
        mid = make_partner(in_acme, program, "MID", recruited_by=top)
        seller = make_partner(in_acme, program, "SELLER", recruited_by=mid)
        conversion = sale(program, seller, str(amount), accrue=not accrue_late)
        for i, share in enumerate(refunds):
            left = conversion.amount - conversion.refunded_amount
            part = money(left * share / 100)
            if part <= 0:
                continue
            refund(conversion, str(part), f"r{i}")
            if accrue_late and i == len(refunds) // 2:
                accrue_conversion(conversion_id=str(conversion.pk))
            for reward in Reward.objects.filter(conversion=conversion):
                expected = money(reward.amount * conversion.refunded_amount / conversion.amount)
                assert clawed(reward) == expected
        accrue_conversion(conversion_id=str(conversion.pk))
        assert verify() == []
        transaction.savepoint_rollback(sid)


def test_verify_lists_a_refund_whose_share_was_not_taken_back(program, alice):
    conversion = sale(program, alice, "100")
    refund(conversion, "50", "r1", run_job=False)  # the clawback job never ran
    [problem] = verify()
    assert "refunds of 50.00 of 100.00 take 5.00" in problem


def test_the_converted_base_is_rounded_once_after_the_percent(in_acme, program, alice):
    ExchangeRate.objects.create(
        tenant=in_acme, base="EUR", quote="USD", rate=D("1.08"), valid_from=timezone.localdate()
    )
    sale(program, alice, "100.05", currency="EUR")
    assert Reward.objects.get().amount == D("10.81")  # 100.05 × 1.08 × 10 % = 10.8054


def test_a_sale_of_zero_earns_nothing_even_under_a_fixed_rule(in_acme, alice):
    program = make_program(in_acme, name="Fixed", hold_days=30)
    rule(program, kind="fixed", value=D("25"))
    partner = make_partner(in_acme, program, "ZERO")
    sale(program, partner, "0")  # as a won CRM deal with no amount arrives
    assert Reward.objects.count() == 0


def test_a_conversion_in_a_currency_with_no_rate_is_refused(program, alice):
    with pytest.raises(ValidationError) as caught:
        sale(program, alice, "10", currency="BRL", accrue=False)
    assert caught.value.code == "no_exchange_rate"
    assert Conversion.objects.count() == 0


@pytest.fixture
def api(client, acme, program, alice):
    from prm.models import ApiKey

    secret, prefix, digest = ApiKey.generate()
    ApiKey.objects.create(tenant=acme, name="t", prefix=prefix, key_hash=digest)

    def post(body: dict) -> object:
        return client.post(
            "/api/v1/conversions",
            json.dumps({"program": str(program.pk), **body}),
            content_type="application/json",
            HTTP_HOST="acme.localhost",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )

    return post


def test_the_api_refuses_a_currency_with_no_rate_with_a_stable_code(api):
    response = api(
        {"order_id": "o1", "amount": "10.00", "currency": "BRL", "referral_code": "ALICE"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "no_exchange_rate" and "BRL" in body["error"]["message"]
    assert Conversion.objects.count() == 0


def test_the_api_refuses_a_sale_of_zero(api):
    response = api({"order_id": "o2", "amount": "0", "currency": "USD", "referral_code": "ALICE"})
    assert response.status_code == 400 and "amount" in response.json()["error"]["fields"]
    assert Conversion.objects.count() == 0
