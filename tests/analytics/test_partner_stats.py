"""The partner's stats in the cabinet: their own figures only, from the rollups."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from prm.tenancy import tenant_scope
from programs.analytics.refresh import rollup_drain
from tests.analytics import raw
from tests.analytics.world import build, click
from tests.factories import UserFactory
from tests.rewards.helpers import sale


@pytest.fixture
def world(acme, owner, settings):  # type: ignore[no-untyped-def]
    settings.PRM_JOBS_INLINE = True
    return build(acme, owner)


def test_a_partner_sees_their_own_figures_equal_to_their_raw_rows(client_for, world):
    response = client_for(world.alice.user).get("/stats/?period=30d")
    assert response.status_code == 200
    figures = response.context["figures"]
    with tenant_scope(world.tenant):
        expected = raw.figures(partner=world.alice)
    for key in ("clicks", "leads", "conversions", "accrued_total", "epc"):
        assert figures[key] == expected[key], key
    earnings = response.context["earnings"]
    assert {c: m["accrued"] for c, m in earnings.items()} == expected["accrued"]
    programs = {row["label"]: row["clicks"] for row in response.context["by_program"]}
    assert programs == {"Shop USD": 3, "Shop EUR": 1}
    subs = {row["k"]: row["clicks"] for row in response.context["by_sub"]}
    assert subs == {"s1": 3, "": 1}


def test_the_lead_list_masks_customers_and_shows_nobody_elses(client_for, world):
    html = client_for(world.alice.user).get("/stats/").content.decode()
    assert "c***@example.test" in html  # hers, and the duplicate she registered
    assert "c1@example.test" not in html and "c2@example.test" not in html
    assert "duplicate: not credited" in html
    bob = client_for(world.bob.user).get("/stats/")
    assert bob.context["figures"]["conversions"] == 0
    assert bob.context["figures"]["clicks"] == 1
    assert "s1" not in [row["k"] for row in bob.context["by_sub"]]


def test_the_charts_get_their_data_as_json_without_inline_script(client_for, world):
    response = client_for(world.alice.user).get("/stats/?period=7d")
    html = response.content.decode()
    assert '<canvas id="stats-traffic" class="js-chart"' in html
    assert '<script id="stats-chart" type="application/json">' in html
    chart = response.context["chart"]
    assert len(chart["labels"]) == 7 and sum(chart["clicks"]) == 4
    assert "revenue_total" not in chart  # the shop's revenue is not the partner's business


def test_the_stats_page_costs_the_same_queries_with_more_rows(client_for, world):
    client = client_for(world.alice.user)
    client.get("/stats/")
    with CaptureQueriesContext(connection) as small:
        client.get("/stats/")
    with tenant_scope(world.tenant):
        for i in range(10):
            click(world.usd, "ALICE", f"visitor-x{i:05d}", sub=f"sub{i}")
            sale(world.usd, world.alice, "10.00", at=timezone.now())
        rollup_drain()
    with CaptureQueriesContext(connection) as big:
        response = client.get("/stats/")
    assert len(big) == len(small)
    assert response.context["figures"]["clicks"] == 14


def test_someone_who_is_no_partner_here_gets_no_stats(client_for, acme, world):
    stranger = UserFactory(email="nobody@example.test")
    response = client_for(stranger).get("/stats/")
    assert response.status_code in (302, 404)
    assert b"Shop USD" not in response.content
