"""The console Overview: figures equal to the raw rows, roles, the checklist, queries."""

from __future__ import annotations

import pytest
from django.utils import timezone

from prm.tenancy import tenant_scope
from programs.analytics.refresh import rollup_drain
from tests.analytics import raw
from tests.analytics.world import build, click
from tests.factories import PartnerFactory
from tests.rewards.helpers import make_partner, sale


@pytest.fixture
def world(acme, owner, settings):  # type: ignore[no-untyped-def]
    settings.PRM_JOBS_INLINE = True
    return build(acme, owner)


def raw_alice(world) -> dict:  # type: ignore[no-untyped-def]
    with tenant_scope(world.tenant):
        return raw.figures(partner=world.alice)


def cards(response) -> dict:  # type: ignore[no-untyped-def]
    return {card.key: card.value for card in response.context["cards"]}


def test_the_figures_are_the_sums_of_the_raw_rows_in_two_currencies_with_a_refund(
    client_for, owner, world
):
    response = client_for(owner).get("/manage/?period=30d")
    assert response.status_code == 200
    shown = cards(response)
    with tenant_scope(world.tenant):
        expected = raw.figures()
    for key in ("clicks", "visitors", "leads", "conversions"):
        assert shown[key] == expected[key], key
    for key in ("revenue_total", "accrued_total", "approved_total", "paid_total", "epc"):
        assert shown[key] == expected[key], key
    assert shown["flagged"] == expected["leads_flagged"] == 1
    assert shown["active_partners"] == 2
    top = response.context["top_partners"]
    assert [row["name"] for row in top] == ["Alice"]  # Bob sold nothing
    assert top[0]["revenue_total"] == raw_alice(world)["revenue_total"]
    assert top[0]["clicks"] == raw_alice(world)["clicks"]
    money = response.context["money"]
    for currency, amount in expected["revenue"].items():
        assert money[currency]["revenue"] == amount
    for currency, amount in expected["accrued"].items():
        assert money[currency]["accrued"] == amount
    html = response.content.decode()
    assert 'id="chart-traffic"' in html and 'id="chart-data"' in html


def test_the_previous_period_is_the_comparison(client_for, owner, world):
    response = client_for(owner).get("/manage/?period=7d")
    clicks = next(c for c in response.context["cards"] if c.key == "clicks")
    assert clicks.previous == 0 and clicks.delta is None
    response = client_for(owner).get("/manage/?period=custom&start=2020-01-01&end=2020-01-31")
    assert cards(response)["clicks"] == 0


def test_a_manager_sees_partners_and_leads_but_no_rewards(client_for, manager, world):
    response = client_for(manager).get("/manage/")
    shown = cards(response)
    assert "leads" in shown and "active_partners" in shown
    for key in ("accrued_total", "approved_total", "paid_total", "epc"):
        assert key not in shown
    assert "accrued_total" not in response.context["chart"]
    assert "Accrued" not in response.content.decode()


@pytest.mark.parametrize("persona", ["finance", "analyst"])
def test_finance_and_analysts_see_the_money(client_for, persona, request, world):
    response = client_for(request.getfixturevalue(persona)).get("/manage/")
    assert {"accrued_total", "approved_total", "paid_total", "epc"} <= set(cards(response))


def test_a_new_workspace_gets_the_checklist_instead_of_zeros(client_for, acme, owner):
    response = client_for(owner).get("/manage/")
    html = response.content.decode()
    assert 'id="checklist"' in html
    assert "cards" not in response.context
    assert [s["done"] for s in response.context["steps"]] == [False] * 5
    PartnerFactory(tenant=acme)
    steps = client_for(owner).get("/manage/").context["steps"]
    assert {s["key"]: s["done"] for s in steps}["partner"] is True


def test_the_checklist_ticks_the_snippet_at_its_first_click(client_for, acme, owner, settings):
    settings.PRM_JOBS_INLINE = True
    from tests.rewards.helpers import make_program

    with tenant_scope(acme):
        program = make_program(acme)
        make_partner(acme, program, "ZED")
    assert {s["key"]: s["done"] for s in client_for(owner).get("/manage/").context["steps"]}[
        "snippet"
    ] is False
    from programs.services.clicks import ClickInput, click_accept

    with tenant_scope(acme):
        click_accept(
            ClickInput(key=program.publishable_key, code="ZED", visitor="visitor-zzzzzz"),
            tenant_id=str(acme.pk),
            ip="",
            user_agent="",
        )
    steps = client_for(owner).get("/manage/").context["steps"]
    assert {s["key"]: s["done"] for s in steps}["snippet"] is True


def test_the_overview_costs_the_same_queries_with_ten_times_the_rows(
    client_for, owner, world, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(owner)
    client.get("/manage/")
    with CaptureQueriesContext(connection) as small:
        client.get("/manage/")
    with tenant_scope(world.tenant):
        for i in range(10):
            partner = make_partner(world.tenant, world.usd, f"MORE{i}")
            click(world.usd, f"MORE{i}", f"visitor-more{i:04d}", source=f"s{i}")
            sale(world.usd, partner, "10.00", at=timezone.now())
        rollup_drain()
    with django_assert_max_num_queries(len(small)):
        response = client.get("/manage/")
    assert cards(response)["clicks"] == 15


def test_counts_are_shown_as_whole_numbers(client_for, owner, world):
    html = client_for(owner).get("/manage/").content.decode()
    assert '<span class="stat-value">5</span>' in html
