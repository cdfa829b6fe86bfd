"""News in Chromium, one story: a manager writes a post with the editor's toolbar and
publishes it; the partner sees the unread count in the menu and the post on the home
page, opens it, and the marker clears. No CSP violation anywhere (the toolbar is a
static script)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from prm.models import Role, Tenant
from tests.e2e.helpers import Site, shot
from tests.factories import PASSWORD, MembershipFactory, PartnerFactory, TenantFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MANAGER = "manager@acme.test"
PARTNER = "alice@example.test"


@pytest.fixture
def tenant(site: Site) -> Tenant:
    tenant = TenantFactory(name="Acme", slug="acme")
    MembershipFactory(tenant=tenant, role=Role.MANAGER, user=UserFactory(email=MANAGER))
    PartnerFactory(tenant=tenant, user=UserFactory(email=PARTNER))
    return tenant


def sign_in(page: Page, base: str, email: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name=re.compile(r"^sign in$", re.I)).click()
    expect(page.locator(".topbar .who")).to_have_text(email)


def test_staff_publish_news_and_the_partner_reads_it(page: Page, site: Site, tenant):
    base = site.tenant("acme")
    sign_in(page, base, MANAGER)
    page.goto(f"{base}/manage/")
    page.locator("nav.sidebar").get_by_role("link", name="News").click()
    page.locator("#news-new").click()
    form = page.locator("#news-form")
    form.locator("input[name=title]").fill("Summer bonus")
    body = form.locator("textarea[name=body]")
    body.fill("Double rewards in July")
    body.evaluate("el => { el.selectionStart = 0; el.selectionEnd = 6; }")
    form.locator(".editor-toolbar").get_by_role("button", name="Bold").click()
    expect(body).to_have_value("<strong>Double</strong> rewards in July")
    form.locator("input[name=send_email]").check()
    shot(page, "news-form")
    form.get_by_role("button", name="Save and publish").click()
    expect(page.locator(".messages")).to_contain_text("is published")
    expect(page.locator("#news-posts")).to_contain_text("Summer bonus")

    sign_in(page, base, PARTNER)
    expect(page.locator("#news-unread")).to_have_text("1")
    expect(page.locator("#news")).to_contain_text("Summer bonus")
    page.locator("#nav-news").click()
    post = page.locator(".news-item.unread")
    expect(post).to_contain_text("Summer bonus")
    shot(page, "news-feed")
    post.get_by_role("link", name="Summer bonus").click()
    expect(page.locator("#news-post strong")).to_have_text("Double")
    expect(page.locator("#news-unread")).to_have_count(0)
    page.locator("#nav-news").click()
    expect(page.locator(".news-item.unread")).to_have_count(0)
    expect(page.locator(".news-item")).to_have_count(1)
