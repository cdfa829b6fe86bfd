"""The analytics pages in Chromium at 1280 and 390 px: the Overview, a report and the
partner's stats draw their charts with data (pixels on the canvas), under the CSP, and
never scroll sideways."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from prm.models import Role, Tenant
from tests.analytics.world import World, build
from tests.e2e.helpers import Site, shot
from tests.factories import PASSWORD, MembershipFactory, TenantFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = [1280, 390]
# Painted pixels of a canvas (alpha > 0), read back from the browser.
PAINTED = """(canvas) => {
  const ctx = canvas.getContext("2d");
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
  return n;
}"""
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture
def tenant(site: Site) -> Tenant:
    return TenantFactory(name="Acme", slug="acme")


@pytest.fixture
def world(tenant: Tenant) -> World:
    owner = MembershipFactory(
        tenant=tenant, role=Role.OWNER, user=UserFactory(email="owner@acme.test")
    ).user
    return build(tenant, owner)


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name=re.compile(r"^sign in$", re.I)).click()
    expect(page.locator(".topbar .who")).to_have_text(email)


def check_charts(page: Page, url: str, canvases: list[str], name: str) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(url)
        for canvas_id in canvases:
            canvas = page.locator(f"canvas#{canvas_id}")
            expect(canvas).to_have_attribute("data-rendered", re.compile(r"^[1-9]\d*$"))
            assert canvas.evaluate(PAINTED) > 500, f"{canvas_id} drew nothing at {width} px"
            box = canvas.bounding_box()
            assert box is not None and 0 < box["width"] <= width
        assert page.evaluate(OVERFLOW) <= 0, f"{url} scrolls sideways at {width} px"
        shot(page, f"{name}-{width}")


def test_the_overview_and_a_report_draw_their_charts(page: Page, site: Site, world: World):
    base = site.tenant("acme")
    sign_in(page, base, "owner@acme.test")
    check_charts(page, f"{base}/manage/?period=30d", ["chart-traffic", "chart-money"], "overview")
    expect(page.locator("#figures [data-figure=clicks] .stat-value")).to_have_text("5")
    check_charts(page, f"{base}/manage/reports/partners/", ["report-chart"], "report-partners")
    expect(page.locator("#report tbody tr")).to_have_count(3)
    # A figure is a link to the rows behind it.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.locator(f'#report tr[data-key="{world.alice.pk}"] td[data-column=conversions] a').click()
    expect(page).to_have_url(re.compile(r"/manage/conversions/\?"))
    expect(page.locator("table tbody tr")).to_have_count(3)


def test_the_partner_sees_their_stats_drawn(page: Page, site: Site, world: World):
    base = site.tenant("acme")
    sign_in(page, base, world.alice.user.email)
    check_charts(page, f"{base}/stats/", ["stats-traffic", "stats-earnings"], "partner-stats")
    expect(page.locator("#count-clicks")).to_have_text("4")
