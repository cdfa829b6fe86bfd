"""The rule preview: last month's top partners under the current rules and an edited one."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta

import pytest

from programs.models import Lead
from rewards.models import ExchangeRate, PartnerGroup, Reward, RewardRule
from rewards.services.preview import applicable, last_month, rule_preview
from tests.rewards.helpers import D, make_partner, make_program, rule, sale

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
FEB = datetime(2025, 2, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def program(in_acme):
    return make_program(in_acme)


@pytest.fixture
def base_rule(program):
    return rule(program, value=D("10"))


@pytest.fixture
def alice(in_acme, program):
    return make_partner(in_acme, program, "ALICE", display_name="Alice")


@pytest.fixture
def bob(in_acme, program):
    return make_partner(in_acme, program, "BOB", display_name="Bob")


def edited(saved: RewardRule, **changes: object) -> RewardRule:
    """The saved rule as the form would hand it over: an unsaved copy with changes."""
    draft = copy.copy(saved)
    for name, value in changes.items():
        setattr(draft, name, value)
    return draft


def rows(preview):  # type: ignore[no-untyped-def]
    return [(str(r.partner), r.revenue, r.current, r.edited) for r in preview.rows]


def test_last_month_is_the_calendar_month_before_now():
    assert last_month(NOW) == (
        datetime(2025, 2, 1, tzinfo=UTC),
        datetime(2025, 3, 1, tzinfo=UTC),
    )
    assert last_month(datetime(2025, 1, 1, tzinfo=UTC))[0] == datetime(2024, 12, 1, tzinfo=UTC)


def test_it_compares_last_months_earnings_under_the_current_and_the_edited_rule(
    program, base_rule, alice, bob
):
    sale(program, alice, "1000.00", at=FEB, accrue=False)
    sale(program, alice, "2000.00", at=FEB, accrue=False)
    sale(program, bob, "500.00", at=FEB, accrue=False)
    sale(program, bob, "9000.00", at=NOW, accrue=False)  # this month: not counted
    sale(program, bob, "9000.00", at=datetime(2025, 1, 31, tzinfo=UTC), accrue=False)

    preview = rule_preview(program=program, rule=edited(base_rule, value=D("20")), now=NOW)

    assert rows(preview) == [
        ("Alice", D("3000.00"), D("300.00"), D("600.00")),
        ("Bob", D("500.00"), D("50.00"), D("100.00")),
    ]
    assert (preview.current_total, preview.edited_total, preview.difference) == (
        D("350.00"),
        D("700.00"),
        D("350.00"),
    )
    assert preview.currency == "USD"


def test_it_saves_nothing(program, base_rule, alice):
    sale(program, alice, "1000.00", at=FEB)
    rewards, rules = Reward.objects.count(), set(RewardRule.objects.values_list("id", "value"))

    rule_preview(program=program, rule=edited(base_rule, value=D("50")), now=NOW)
    new = RewardRule(tenant=program.tenant, program=program, event="conversion", value=D("1"))
    rule_preview(program=program, rule=new, now=NOW)

    assert Reward.objects.count() == rewards
    assert set(RewardRule.objects.values_list("id", "value")) == rules
    assert new._state.adding


def test_only_the_top_partners_by_revenue_are_shown(in_acme, program, base_rule):
    for n in range(12):
        partner = make_partner(in_acme, program, f"P{n:02d}", display_name=f"P{n:02d}")
        sale(program, partner, f"{100 + n}.00", at=FEB, accrue=False)

    preview = rule_preview(program=program, rule=base_rule, now=NOW)

    assert [str(r.partner) for r in preview.rows] == [f"P{n:02d}" for n in range(11, 1, -1)]
    assert rule_preview(program=program, rule=base_rule, now=NOW, limit=3).rows[0].revenue == D(
        "111.00"
    )


def test_a_more_specific_rule_keeps_a_partner_out_of_the_change(program, base_rule, alice, bob):
    rule(program, value=D("5"), partner=bob)
    sale(program, alice, "1000.00", at=FEB, accrue=False)
    sale(program, bob, "1000.00", at=FEB, accrue=False)

    preview = rule_preview(program=program, rule=edited(base_rule, value=D("30")), now=NOW)

    by_name = {str(r.partner): r for r in preview.rows}
    assert (by_name["Alice"].edited, by_name["Alice"].affected) == (D("300.00"), True)
    assert (by_name["Bob"].current, by_name["Bob"].edited) == (D("50.00"), D("50.00"))
    assert not by_name["Bob"].affected


def test_a_new_group_rule_applies_to_the_groups_partners_only(
    in_acme, program, base_rule, alice, bob
):
    gold = PartnerGroup.objects.create(tenant=in_acme, name="Gold")
    alice.group = gold
    alice.save()
    sale(program, alice, "1000.00", at=FEB, accrue=False)
    sale(program, bob, "1000.00", at=FEB, accrue=False)
    draft = RewardRule(
        tenant=in_acme, program=program, group=gold, event="conversion", value=D("25")
    )

    preview = rule_preview(program=program, rule=draft, now=NOW)

    assert {str(r.partner): r.edited for r in preview.rows} == {
        "Alice": D("250.00"),
        "Bob": D("100.00"),
    }


def test_the_monthly_cap_applies_over_the_simulated_month(program, base_rule, alice):
    for _ in range(3):
        sale(program, alice, "1000.00", at=FEB)  # accrued: 3 x 100 already in the ledger

    preview = rule_preview(
        program=program,
        rule=edited(base_rule, value=D("20"), cap_per_partner_month=D("450")),
        now=NOW,
    )

    assert rows(preview) == [("Alice", D("3000.00"), D("300.00"), D("450.00"))]


def test_tiers_and_the_per_conversion_cap_come_from_the_accruals_own_calculation(
    program, base_rule, alice
):
    for hour in range(3):
        sale(program, alice, "100.00", at=FEB + timedelta(hours=hour), accrue=False)
    draft = edited(
        base_rule, tiers=[{"min_conversions": 2, "value": "50"}], cap_per_conversion=D("40")
    )

    preview = rule_preview(program=program, rule=draft, now=NOW)

    # 10 for the first sale, then the tier's 50% capped at 40, twice.
    assert rows(preview) == [("Alice", D("300.00"), D("30.00"), D("90.00"))]


def test_other_currencies_are_converted_and_a_missing_rate_is_counted(
    in_acme, program, base_rule, alice
):
    ExchangeRate.objects.create(
        tenant=in_acme, base="EUR", quote="USD", rate=D("2"), valid_from=date(2025, 1, 1)
    )
    sale(program, alice, "100.00", currency="EUR", at=FEB, accrue=False)
    rub = ExchangeRate.objects.create(
        tenant=in_acme, base="RUB", quote="USD", rate=D("0.01"), valid_from=date(2025, 1, 1)
    )
    sale(program, alice, "100.00", currency="RUB", at=FEB, accrue=False)
    rub.delete()  # conversions are refused without a rate; one deleted later is missing

    preview = rule_preview(program=program, rule=edited(base_rule, value=D("20")), now=NOW)

    (row,) = preview.rows
    assert (row.revenue, row.current, row.edited) == (D("200.00"), D("20.00"), D("40.00"))
    assert (row.conversions, row.missing_rates) == (1, 1)


def test_a_lead_rule_is_previewed_on_last_months_leads(in_acme, program, alice):
    lead_rule = rule(program, event="lead", kind="fixed", value=D("5"))
    sale(program, alice, "100.00", at=FEB, accrue=False)
    for n in range(3):
        lead = Lead.objects.create(
            tenant=in_acme, program=program, partner=alice, source="api", email=f"l{n}@x.test"
        )
        Lead.objects.filter(pk=lead.pk).update(created_at=FEB)

    preview = rule_preview(program=program, rule=edited(lead_rule, value=D("8")), now=NOW)

    (row,) = preview.rows
    assert (row.leads, row.current, row.edited) == (3, D("15.00"), D("24.00"))


def test_a_deactivated_draft_falls_back_to_the_next_rule(in_acme, program, base_rule, alice):
    own = rule(program, value=D("30"), partner=alice)
    sale(program, alice, "1000.00", at=FEB, accrue=False)

    preview = rule_preview(program=program, rule=edited(own, is_active=False), now=NOW)

    assert rows(preview) == [("Alice", D("1000.00"), D("300.00"), D("100.00"))]
    assert applicable([base_rule, own], alice) == own
