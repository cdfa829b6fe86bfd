"""Console: a program's reward rules page, the rule form with its preview, bonuses,
partner groups and the program's money settings."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from partners.models import PartnerProfile
from prm.models import AuditEntry
from prm.tenancy import tenant_scope
from programs.models import Program
from rewards.models import BonusRule, PartnerGroup, RewardRule
from rewards.services.accrual import month_start
from tests.conftest import module_world
from tests.rewards.console_world import actions, build, messages_of
from tests.rewards.helpers import sale

D = Decimal
RULE = {
    "scope": "program",
    "event": "conversion",
    "kind": "percent",
    "value": "15",
    "recurring": "lifetime",
    "referred_reward": "none",
}


# acme, its owner and the money world, made once for the module; each test's changes
# are rolled back (tests/conftest.py, module_rows).
shared, acme, owner, world = module_world(build)


def url(world, rest: str = "") -> str:  # type: ignore[no-untyped-def]
    return f"/manage/programs/{world.program.pk}/rewards/{rest}"


def rules(acme) -> set[tuple]:  # type: ignore[no-untyped-def]
    with tenant_scope(acme):
        return set(
            RewardRule.objects.values_list("id", "event", "value", "is_active", "partner", "group")
        )


def audits(acme) -> int:  # type: ignore[no-untyped-def]
    return AuditEntry.all_tenants_unscoped.filter(tenant=acme).count()


# The page


@pytest.mark.parametrize("role", ["owner", "admin", "finance", "analyst", "manager"])
def test_it_lists_rules_by_scope_with_the_precedence_and_money_settings(
    client_for, acme, world, role, request
):
    with tenant_scope(acme):
        RewardRule.objects.create(
            tenant=acme, program=world.program, partner=world.bob, event="conversion", value=D("7")
        )
        RewardRule.objects.create(
            tenant=acme,
            program=world.program,
            group=world.group,
            event="lead",
            kind="fixed",
            value=D("3"),
        )
        Program.objects.filter(pk=world.program.pk).update(
            levels=3, level_percents=[10, 5], reward_budget=D("5000")
        )

    response = client_for(request.getfixturevalue(role)).get(url(world))

    html = response.content.decode()
    assert response.status_code == 200
    assert "The partner's own rule" in html and "Their group's rule" in html
    program_table = html.split('id="rules-program"')[1].split("</table>")[0]
    group_table = html.split('id="rules-group"')[1].split("</table>")[0]
    partner_table = html.split('id="rules-partner"')[1].split("</table>")[0]
    assert str(world.rule.pk) in program_table
    assert "Gold" in group_table and "3.00 USD" in group_table
    assert "Bob" in partner_table and "7.00%" in partner_table
    assert f'data-bonus="{world.bonus.pk}"' in html
    assert "level 2: 10%" in html and "level 3: 5%" in html and "5000.00 USD" in html
    assert "30 days" in html
    can_edit = role in {"owner", "admin"}
    assert ('id="money-form"' in html) is can_edit
    assert (f"/manage/rewards/rules/{world.rule.pk}/edit/" in html) is can_edit


def test_the_rules_page_stays_within_its_query_budget(
    client_for, acme, owner, world, django_assert_max_num_queries
):
    with tenant_scope(acme):
        for n in range(10):
            group = PartnerGroup.objects.create(tenant=acme, name=f"G{n}")
            RewardRule.objects.create(
                tenant=acme, program=world.program, group=group, event="conversion", value=n
            )
            BonusRule.objects.create(
                tenant=acme, program=world.program, metric="revenue", threshold=10 + n, amount=1
            )
    client = client_for(owner)
    with django_assert_max_num_queries(13):
        assert client.get(url(world)).status_code == 200


# Creating and editing rules


def test_it_creates_a_partner_rule_with_tiers_and_audits_it(client_for, acme, owner, world):
    response = client_for(owner).post(
        url(world, "rules/new/"),
        {
            **RULE,
            "scope": "partner",
            "partner": world.alice.pk,
            "group": world.group.pk,  # another scope's field: ignored
            "tiers_text": "min_conversions=10 → 25\nmin_revenue=5000.50 -> 30\n",
            "cap_per_partner_month": "500",
            "referred_reward": "discount",
            "referred_value": "10",
        },
    )

    assert response.status_code == 302
    with tenant_scope(acme):
        created = RewardRule.objects.get(partner=world.alice)
    assert (created.group, created.value, created.cap_per_partner_month) == (
        None,
        D("15"),
        D("500"),
    )
    assert created.tiers == [
        {"min_conversions": 10, "value": "25"},
        {"min_revenue": "5000.50", "value": "30"},
    ]
    assert (created.referred_reward, created.referred_value) == ("discount", D("10"))
    entry = AuditEntry.all_tenants_unscoped.get(tenant=acme, action="reward_rule.create")
    assert entry.object_id == str(created.pk)
    assert entry.after["value"] == "15.00"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"value": "101"}, "value", "A percent cannot be above 100."),
        ({"value": "-1"}, "value", "Enter zero or more."),
        ({"event": "lead"}, "kind", "A lead earns a fixed amount"),
        ({"recurring": "first_n"}, "recurring_count", "Say how many payments are rewarded."),
        ({"scope": "group"}, "group", "Choose the group."),
        ({"scope": "partner"}, "partner", "Choose the partner."),
        ({"tiers_text": "ten → 25"}, "tiers_text", "Line 1: write a tier as"),
        ({"tiers_text": "min_conversions=1.5 → 25"}, "tiers_text", "Line 1: write a tier as"),
        ({"tiers_text": "min_revenue=100 → 5"}, "tiers_text", "a tier pays more than the rule"),
        ({"referred_reward": "credit"}, "referred_value", "Say how much the referred customer"),
        ({"cap_per_conversion": "0"}, "cap_per_conversion", "Enter an amount above zero."),
        ({}, None, "An active rule for this event and scope already exists"),
    ],
)
def test_a_wrong_rule_shows_its_errors_and_saves_nothing(
    client_for, acme, owner, world, changes, field, message
):
    before, logged = rules(acme), audits(acme)

    response = client_for(owner).post(url(world, "rules/new/"), {**RULE, **changes})

    assert response.status_code == 200
    form = response.context["form"]
    errors = form.errors.get(field or "__all__", [])
    assert any(message in e for e in errors), form.errors
    assert message in response.content.decode().replace("&#x27;", "'").replace("&quot;", '"')
    assert rules(acme) == before
    assert audits(acme) == logged


def test_a_partner_not_in_the_program_cannot_be_picked(client_for, acme, owner, world):
    with tenant_scope(acme):
        other = PartnerProfile.objects.exclude(
            pk__in=[world.alice.pk, world.bob.pk]
        ).first() or PartnerProfile.objects.create(tenant=acme, user=owner)
    before = rules(acme)
    response = client_for(owner).post(
        url(world, "rules/new/"), {**RULE, "scope": "partner", "partner": other.pk}
    )
    assert "partner" in response.context["form"].errors
    assert rules(acme) == before


def test_it_edits_a_rule_and_audits_before_and_after(client_for, acme, owner, world):
    client = client_for(owner)
    page = client.get(f"/manage/rewards/rules/{world.rule.pk}/edit/")
    assert page.status_code == 200
    assert page.context["form"].initial["scope"] == "program"

    response = client.post(
        f"/manage/rewards/rules/{world.rule.pk}/edit/", {**RULE, "value": "12.5", "save": "1"}
    )

    assert response.status_code == 302
    assert response["Location"] == url(world)
    world.rule.refresh_from_db()
    assert world.rule.value == D("12.5")
    entry = AuditEntry.all_tenants_unscoped.get(tenant=acme, action="reward_rule.update")
    assert (entry.before, entry.after) == ({"value": "10.00"}, {"value": "12.50"})


def test_tiers_are_shown_back_in_the_textarea(client_for, acme, owner, world):
    RewardRule.all_tenants_unscoped.filter(pk=world.rule.pk).update(
        tiers=[{"min_conversions": 10, "value": "25"}]
    )
    page = client_for(owner).get(f"/manage/rewards/rules/{world.rule.pk}/edit/")
    assert page.context["form"].initial["tiers_text"] == "min_conversions=10 → 25"


def test_it_deactivates_a_rule(client_for, acme, owner, world):
    response = client_for(owner).post(f"/manage/rewards/rules/{world.rule.pk}/deactivate/")
    assert response.status_code == 302
    world.rule.refresh_from_db()
    assert not world.rule.is_active
    assert actions(acme)[-1] == "reward_rule.update"
    # The program rule's place is free again.
    assert client_for(owner).post(url(world, "rules/new/"), RULE).status_code == 302


# The preview


def test_the_preview_shows_last_months_numbers_and_saves_nothing(client_for, acme, owner, world):
    last_month = month_start(month_start(timezone.now()) - timedelta(days=1)) + timedelta(days=3)
    with tenant_scope(acme):
        sale(world.program, world.alice, "1000.00", at=last_month, accrue=False)
        sale(world.program, world.bob, "400.00", at=last_month, accrue=False)
    before, logged = rules(acme), audits(acme)

    response = client_for(owner).post(
        f"/manage/rewards/rules/{world.rule.pk}/edit/", {**RULE, "value": "20", "preview": "1"}
    )

    assert response.status_code == 200
    html = response.content.decode()
    table = html.split('id="preview-table"')[1].split("</table>")[0]
    alice_row = table.split(f'data-partner="{world.alice.pk}"')[1].split("</tr>")[0]
    assert "1000.00 USD" in alice_row  # revenue
    assert "100.00 USD" in alice_row  # under the saved 10%
    assert "200.00 USD" in alice_row  # under the edited 20%
    assert "+100.00" in alice_row
    assert "140.00 USD" in table and "280.00 USD" in table  # totals
    assert response.context["form"]["value"].value() == "20"  # the form keeps the edit
    assert rules(acme) == before
    assert audits(acme) == logged


def test_a_new_rule_can_be_previewed_too(client_for, acme, owner, world):
    with tenant_scope(acme):
        RewardRule.objects.filter(pk=world.rule.pk).update(is_active=False)
    before = rules(acme)
    response = client_for(owner).post(url(world, "rules/new/"), {**RULE, "preview": "1"})
    assert response.status_code == 200
    assert 'id="preview-table"' in response.content.decode()
    assert rules(acme) == before


def test_an_invalid_rule_shows_errors_instead_of_a_preview(client_for, acme, owner, world):
    response = client_for(owner).post(
        f"/manage/rewards/rules/{world.rule.pk}/edit/", {**RULE, "value": "500", "preview": "1"}
    )
    assert response.context["preview"] is None
    assert "value" in response.context["form"].errors


# Bonuses


def test_it_adds_edits_and_deactivates_a_bonus(client_for, acme, owner, world):
    client = client_for(owner)
    created = client.post(
        url(world, "bonuses/new/"),
        {"metric": "revenue", "threshold": "10000", "amount": "150", "group": world.group.pk},
    )
    assert created.status_code == 302
    with tenant_scope(acme):
        bonus = BonusRule.objects.get(threshold=D("10000"))
    assert (bonus.group, bonus.amount) == (world.group, D("150"))

    edited = client.post(
        f"/manage/rewards/bonuses/{bonus.pk}/edit/",
        {"metric": "revenue", "threshold": "10000", "amount": "175"},
    )
    assert edited.status_code == 302
    bonus.refresh_from_db()
    assert (bonus.group, bonus.amount) == (None, D("175"))

    client.post(f"/manage/rewards/bonuses/{bonus.pk}/deactivate/")
    bonus.refresh_from_db()
    assert not bonus.is_active
    assert actions(acme)[-3:] == ["bonus_rule.create", "bonus_rule.update", "bonus_rule.update"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"metric": "revenue", "threshold": "0", "amount": "5"}, "threshold"),
        ({"metric": "conversions", "threshold": "2.5", "amount": "5"}, "threshold"),
        ({"metric": "revenue", "threshold": "5", "amount": "-5"}, "amount"),
        ({"metric": "nope", "threshold": "5", "amount": "5"}, "metric"),
    ],
)
def test_a_wrong_bonus_shows_errors_and_saves_nothing(client_for, acme, owner, world, data, field):
    logged = audits(acme)
    response = client_for(owner).post(url(world, "bonuses/new/"), data)
    assert response.status_code == 200
    assert field in response.context["bonus_form"].errors
    assert 'id="bonus-form"' in response.content.decode()
    assert BonusRule.all_tenants_unscoped.filter(tenant=acme).count() == 1
    assert audits(acme) == logged


# Groups


def test_it_creates_a_group_and_puts_partners_in_and_out(client_for, acme, owner, world):
    client = client_for(owner)
    assert (
        client.post(url(world, "groups/new/"), {"name": "Silver", "hold_days": "7"}).status_code
        == 302
    )
    with tenant_scope(acme):
        silver = PartnerGroup.objects.get(name="Silver")
    assert silver.hold_days == 7

    client.post(url(world, "groups/assign/"), {"partner": world.alice.pk, "group": silver.pk})
    world.alice.refresh_from_db()
    assert world.alice.group == silver

    response = client.post(url(world, "groups/assign/"), {"partner": world.alice.pk, "group": ""})
    world.alice.refresh_from_db()
    assert world.alice.group is None
    assert messages_of(response)[-1] == "Alice is in no group."
    entry = (
        AuditEntry.all_tenants_unscoped.filter(tenant=acme, action="partner.group")
        .order_by("created_at", "pk")
        .last()
    )
    assert (entry.before, entry.after) == ({"group": "Silver"}, {"group": None})


def test_a_group_name_is_unique(client_for, acme, owner, world):
    response = client_for(owner).post(url(world, "groups/new/"), {"name": "gold"})
    assert response.context["group_form"].errors["name"] == [
        "A group with this name already exists."
    ]
    assert PartnerGroup.all_tenants_unscoped.filter(tenant=acme).count() == 1


# Money settings


def test_it_saves_the_programs_money_settings(client_for, acme, owner, world):
    response = client_for(owner).post(
        url(world, "settings/"),
        {
            "hold_days": "14",
            "levels": "3",
            "level_percents_text": "10, 2.5",
            "reward_budget": "900",
        },
    )
    assert response.status_code == 302
    world.program.refresh_from_db()
    assert (world.program.hold_days, world.program.levels) == (14, 3)
    assert world.program.level_percents == [10, 2.5]
    assert world.program.reward_budget == D("900")
    entry = AuditEntry.all_tenants_unscoped.get(tenant=acme, action="program_money.update")
    assert entry.before["hold_days"] == 30 and entry.after["hold_days"] == 14


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"levels": "2", "level_percents_text": "10, 5"}, "give at most 1 numbers"),
        ({"levels": "2", "level_percents_text": "ten"}, "Enter numbers from 0 to 100"),
        ({"levels": "2", "level_percents_text": "150"}, "Enter numbers from 0 to 100"),
        ({"levels": "11", "level_percents_text": ""}, "From 1 to 10 levels."),
        ({"levels": "2", "level_percents_text": "", "reward_budget": "0"}, "above zero"),
    ],
)
def test_wrong_money_settings_save_nothing(client_for, acme, owner, world, data, message):
    logged = audits(acme)
    response = client_for(owner).post(url(world, "settings/"), {"hold_days": "1", **data})
    assert response.status_code == 200
    assert message in str(response.context["money_form"].errors)
    world.program.refresh_from_db()
    assert (world.program.hold_days, world.program.levels) == (30, 2)
    assert audits(acme) == logged
