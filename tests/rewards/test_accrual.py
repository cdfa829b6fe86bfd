"""Reward rules: every kind and the precedence partner > group > program."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from partners.models import PartnerProfile
from programs.models import Conversion, Lead
from programs.services.leads import LeadInput, lead_create
from rewards.models import BonusRule, ExchangeRate, LedgerEntry, PartnerGroup, Reward, RewardRule
from rewards.services.accrual import accrue_conversion, accrue_lead, referred_reward
from rewards.services.verify import verify
from tests.rewards.helpers import D, make_partner, make_program, pending, rule, sale


@pytest.fixture
def program(in_acme):
    return make_program(in_acme)


@pytest.fixture
def alice(in_acme, program):
    return make_partner(in_acme, program, "ALICE")


def rewards_of(partner):
    return list(Reward.objects.filter(partner=partner).order_by("created_at"))


def test_a_percent_rule_accrues_a_pending_reward_with_a_copy_of_the_rule(program, alice):
    r = rule(program, value=D("20"))
    conversion = sale(program, alice, "149.90")
    [reward] = rewards_of(alice)
    assert reward.amount == D("29.98")
    assert reward.status == Reward.Status.PENDING
    assert reward.available_at == conversion.occurred_at + timedelta(days=30)
    entry = LedgerEntry.objects.get(reward=reward)
    assert entry.kind == LedgerEntry.Kind.ACCRUAL
    assert entry.rule["id"] == str(r.pk) and entry.rule["value"] == "20.00"
    assert pending(alice) == D("29.98")
    # Editing the rule later does not rewrite history.
    r.value = D("50")
    r.save()
    entry.refresh_from_db()
    assert entry.rule["value"] == "20.00"
    assert verify() == []


def test_accrual_is_idempotent(program, alice):
    rule(program)
    conversion = sale(program, alice)
    accrue_conversion(conversion_id=str(conversion.pk))
    assert len(rewards_of(alice)) == 1
    assert pending(alice) == D("20.00")


def test_a_fixed_rule_pays_its_amount(program, alice):
    rule(program, kind=RewardRule.Kind.FIXED, value=D("15"))
    sale(program, alice, "999")
    assert pending(alice) == D("15.00")


def test_precedence_partner_over_group_over_program(in_acme, program, alice):
    group = PartnerGroup.objects.create(tenant=in_acme, name="VIP")
    bob = make_partner(in_acme, program, "BOB", group=group)
    carol = make_partner(in_acme, program, "CAROL", group=group)
    rule(program, value=D("10"))
    rule(program, group=group, value=D("15"))
    rule(program, partner=carol, value=D("25"))
    for partner in (alice, bob, carol):
        sale(program, partner, "100")
    assert [pending(p) for p in (alice, bob, carol)] == [D("10.00"), D("15.00"), D("25.00")]
    assert rewards_of(carol)[0].rule["scope"] == "partner"
    assert rewards_of(bob)[0].rule["scope"] == "group"


def test_no_rule_no_reward_and_unattributed_conversions_earn_nothing(program, alice):
    sale(program, alice)
    rule(program)
    sale(program, None)
    assert Reward.objects.count() == 0


def test_minimum_order_amount(program, alice):
    rule(program, min_order_amount=D("50"))
    sale(program, alice, "49.99")
    sale(program, alice, "50")
    assert pending(alice) == D("10.00")


def test_new_customers_only(program, alice):
    rule(program, new_customers_only=True)
    sale(program, alice, "100", email="ann@example.com")
    sale(program, alice, "100", email="ann@example.com", at=timezone.now() + timedelta(seconds=1))
    assert len(rewards_of(alice)) == 1


@pytest.mark.parametrize(
    ("recurring", "count", "rewarded"),
    [
        (RewardRule.Recurring.FIRST, None, 1),
        (RewardRule.Recurring.FIRST_N, 3, 3),
        (RewardRule.Recurring.LIFETIME, None, 5),
    ],
)
def test_recurring_subscription_payments(program, alice, recurring, count, rewarded):
    rule(program, recurring=recurring, recurring_count=count)
    start = timezone.now() - timedelta(days=150)
    for month in range(5):
        sale(
            program,
            alice,
            "30",
            kind=Conversion.Kind.SUBSCRIPTION,
            email="sub@example.com",
            at=start + timedelta(days=30 * month),
        )
    assert len(rewards_of(alice)) == rewarded


def test_tiers_raise_the_rate_with_the_partners_volume(program, alice):
    rule(program, value=D("10"), tiers=[{"min_conversions": 3, "value": "20"}])
    for _ in range(4):
        sale(program, alice, "100")
    assert [r.amount for r in rewards_of(alice)] == [D("10"), D("10"), D("20"), D("20")]


def test_caps_per_conversion_and_per_partner_month(program, alice):
    rule(program, value=D("50"), cap_per_conversion=D("30"), cap_per_partner_month=D("70"))
    for _ in range(4):
        sale(program, alice, "100")
    assert [r.amount for r in rewards_of(alice)] == [D("30"), D("30"), D("10")]


def test_the_program_budget_stops_rewards(in_acme, alice, program):
    program.reward_budget = D("25")
    program.save()
    rule(program, value=D("10"))
    for _ in range(4):
        sale(program, alice, "100")
    assert sum(r.amount for r in rewards_of(alice)) == D("25")


def test_a_budget_set_later_counts_what_was_spent_and_a_rejection_frees_room(
    in_acme, alice, program
):
    from rewards.models import ProgramBudget
    from rewards.services.approvals import reward_reject

    rule(program, value=D("10"))
    sale(program, alice, "100")
    sale(program, alice, "100")  # 20 spent before any budget
    assert not ProgramBudget.objects.exists()
    program.reward_budget = D("35")
    program.save()
    sale(program, alice, "100")
    sale(program, alice, "100")  # only 5 left
    assert ProgramBudget.objects.get().spent == D("35.00")
    reward_reject(reward=rewards_of(alice)[0], reason="fraud", actor=None)
    sale(program, alice, "100")
    assert ProgramBudget.objects.get().spent == D("35.00")
    assert [r.amount for r in rewards_of(alice)] == [D("10"), D("10"), D("10"), D("5"), D("10")]


def test_a_budgeted_accrual_costs_the_same_however_long_the_history(in_acme, alice, program):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    program.reward_budget = D("1000000")
    program.save()
    rule(program, value=D("10"))

    def queries_of_one_sale() -> list[str]:
        conversion = sale(program, alice, "100", accrue=False)
        with CaptureQueriesContext(connection) as queries:
            accrue_conversion(conversion_id=str(conversion.pk))
        return [q["sql"] for q in queries.captured_queries]

    queries_of_one_sale()  # the first one makes the running total
    first = queries_of_one_sale()
    for _ in range(15):
        sale(program, alice, "100")
    last = queries_of_one_sale()
    assert len(last) == len(first)
    # No sum over the program's rewards (the partner's month for caps is another one).
    assert not [q for q in last if 'SUM("rewards_reward"."amount")' in q and "partner_id" not in q]


def test_one_off_bonus_on_reaching_a_threshold_once_a_month(program, alice):
    rule(program, value=D("10"))
    BonusRule.objects.create(
        tenant=program.tenant, program=program, metric="conversions", threshold=3, amount=D("50")
    )
    for _ in range(5):
        sale(program, alice, "100")
    bonuses = Reward.objects.filter(partner=alice, kind=Reward.Kind.BONUS)
    assert [b.amount for b in bonuses] == [D("50")]


def test_a_lead_earns_its_fixed_reward_but_duplicates_do_not(in_acme, program, alice):
    rule(program, event=RewardRule.Event.LEAD, kind=RewardRule.Kind.FIXED, value=D("2"))
    first = lead_create(
        tenant=in_acme,
        program=program,
        source=Lead.Source.API,
        data=LeadInput(email="l@example.com", referral_code="ALICE"),
    )
    dup = lead_create(
        tenant=in_acme,
        program=program,
        source=Lead.Source.API,
        data=LeadInput(email="l@example.com", referral_code="ALICE"),
    )
    accrue_lead(lead_id=str(first.pk))
    accrue_lead(lead_id=str(dup.pk))
    assert pending(alice) == D("2.00")


def test_a_conversion_in_another_currency_is_converted_with_a_stored_rate(in_acme, program, alice):
    rule(program, value=D("10"))
    ExchangeRate.objects.create(
        tenant=in_acme, base="EUR", quote="USD", rate=D("1.08"), valid_from=timezone.localdate()
    )
    sale(program, alice, "200", currency="EUR")
    [reward] = rewards_of(alice)
    assert reward.amount == D("21.60") and reward.currency == "USD"
    entry = LedgerEntry.objects.get(reward=reward)
    assert entry.fx["rate"] == "1.08000000" and entry.fx["from"] == "EUR"


def test_a_missing_rate_fails_the_job_loudly_and_accrues_nothing(in_acme, program, alice):
    rule(program)
    rate = ExchangeRate.objects.create(
        tenant=in_acme, base="RUB", quote="USD", rate=D("0.01"), valid_from=timezone.localdate()
    )
    conversion = sale(program, alice, "10", currency="RUB", accrue=False)
    rate.delete()  # removed by someone after the conversion was accepted
    with pytest.raises(ValidationError):
        accrue_conversion(conversion_id=str(conversion.pk))
    assert Reward.objects.count() == 0


def test_a_blocked_partner_earns_nothing(program, alice):
    rule(program)
    conversion = sale(program, alice, accrue=False)
    PartnerProfile.objects.filter(pk=alice.pk).update(status=PartnerProfile.Status.BLOCKED)
    accrue_conversion(conversion_id=str(conversion.pk))
    assert Reward.objects.count() == 0


def test_the_referred_customers_reward_is_part_of_the_rule(program, alice):
    rule(program, referred_reward=RewardRule.ReferredReward.DISCOUNT, referred_value=D("10"))
    assert referred_reward(program, alice) == {"kind": "discount", "value": "10.00"}


def test_the_api_tells_the_client_what_the_referred_customer_gets(client, acme, program, alice):
    import json

    from prm.models import ApiKey

    rule(program, referred_reward=RewardRule.ReferredReward.DISCOUNT, referred_value=D("10"))
    secret, prefix, digest = ApiKey.generate()
    ApiKey.objects.create(tenant=acme, name="t", prefix=prefix, key_hash=digest)
    response = client.post(
        "/api/v1/leads",
        json.dumps({"email": "f@example.com", "referral_code": "ALICE"}),
        content_type="application/json",
        HTTP_HOST="acme.localhost",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.json()["referred_reward"] == {"kind": "discount", "value": "10.00"}
