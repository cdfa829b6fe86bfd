"""Antifraud in Chromium: a partner registers a deal with their own e-mail, the real
scoring flags it, the cabinet shows the reward on hold, a manager opens the review
queue and releases it. The queue, an item and the cabinet fit a 390 px phone in
English and Russian (no horizontal scrolling of the page)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from antifraud.models import RiskAssessment
from antifraud.services.fingerprints import record_identity
from prm.models import Role, Tenant
from prm.tenancy import tenant_scope
from programs.models import Enrollment
from rewards.models import Reward, RewardRule
from tests.e2e.helpers import Site, shot
from tests.factories import PASSWORD, MembershipFactory, TenantFactory, UserFactory
from tests.rewards.helpers import make_partner, make_program, rule

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PARTNER = "alice@example.test"  # make_partner's user for code ALICE
MANAGER = "manager@acme.test"


@pytest.fixture
def tenant(site: Site) -> Tenant:
    tenant = TenantFactory(name="Acme", slug="acme")
    MembershipFactory(tenant=tenant, role=Role.MANAGER, user=UserFactory(email=MANAGER))
    with tenant_scope(tenant):
        program = make_program(tenant, name="Pro plan")
        rule(program, event=RewardRule.Event.LEAD, kind=RewardRule.Kind.FIXED, value=Decimal("5"))
        partner = make_partner(tenant, program, "ALICE")
        record_identity(partner)  # as partner_join does when a partner signs up
    return tenant


def sign_in(page: Page, base: str, email: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name=re.compile(r"^sign in$", re.I)).click()
    expect(page.locator(".topbar .who")).to_have_text(email)


def fits_the_screen(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_a_self_referral_is_held_and_a_reviewer_releases_it(page: Page, site: Site, tenant):
    base = site.tenant("acme")
    with tenant_scope(tenant):
        enrollment = Enrollment.objects.get(code="ALICE")

    # The partner registers a deal for themselves.
    sign_in(page, base, PARTNER)
    page.goto(f"{base}/programs/{enrollment.pk}/")
    form = page.locator("#deal-form")
    form.locator("input[name=name]").fill("Alice herself")
    form.locator("input[name=email]").fill("Alice@Example.test")
    form.get_by_role("button", name="Register deal").click()
    page.goto(f"{base}/earnings/")
    status = page.locator("#rewards .reward-status")
    expect(status).to_have_count(1)
    expect(status).to_contain_text("Held for review")
    assert "self" not in page.locator("#rewards").inner_text().lower()  # no evidence
    shot(page, "antifraud-cabinet-held")

    # A manager finds it in the review queue and releases it.
    sign_in(page, base, MANAGER)
    page.goto(f"{base}/manage/")
    expect(
        page.locator(".sidebar").get_by_role("link", name=re.compile(r"^Review"))
    ).to_contain_text("1")
    page.locator(".sidebar").get_by_role("link", name=re.compile(r"^Review")).click()
    row = page.locator("#queue tbody tr[data-assessment]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Partner referred themselves")
    shot(page, "antifraud-queue")
    row.get_by_role("link", name="Lead").click()
    expect(page.locator("#reasons")).to_contain_text("The customer matches the partner's own email")
    expect(page.locator("#reasons")).to_contain_text("a•••@example.test")
    shot(page, "antifraud-item")
    page.get_by_role("button", name="Approve and release").click()
    expect(page.locator(".messages")).to_contain_text("Approved: 1 reward released.")
    expect(page.locator("#history")).to_contain_text("risk.approve")
    with tenant_scope(tenant):
        reward = Reward.objects.get()
        assessment = RiskAssessment.objects.get(subject="lead")
    assert not reward.flagged and reward.status == Reward.Status.PENDING
    assert assessment.decision == RiskAssessment.Decision.APPROVED

    # Released: the cabinet shows the ordinary hold period again.
    sign_in(page, base, PARTNER)
    page.goto(f"{base}/earnings/")
    expect(page.locator("#rewards .reward-status")).to_contain_text("On hold until")


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_antifraud_pages_fit_a_phone(browser, site: Site, tenant, language):  # type: ignore[no-untyped-def]
    base = site.tenant("acme")
    with tenant_scope(tenant):
        enrollment = Enrollment.objects.get(code="ALICE")
    context = browser.new_context(
        locale="ru-RU" if language == "ru" else "en-US", viewport={"width": 390, "height": 844}
    )
    context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": base}])
    page = context.new_page()
    try:
        sign_in(page, base, PARTNER)
        page.goto(f"{base}/programs/{enrollment.pk}/")
        form = page.locator("#deal-form")
        form.locator("input[name=email]").fill(PARTNER)
        form.locator("button[type=submit]").click()
        page.goto(f"{base}/earnings/")
        expect(page.locator("#rewards .reward-status")).to_be_visible()
        sign_in(page, base, MANAGER)
        page.context.add_cookies(
            [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": base}]
        )
        with tenant_scope(tenant):
            item = RiskAssessment.objects.get(subject="lead")
        for path in (
            "/manage/antifraud/",
            "/manage/antifraud/?state=all&level=review",
            f"/manage/antifraud/{item.pk}/",
            "/manage/antifraud/blocklist/",
            "/manage/partners/",
        ):
            response = page.goto(base + path)
            assert response is not None and response.status == 200, path
            assert page.locator("html").get_attribute("lang") == language
            assert fits_the_screen(page), f"{language} {path} scrolls sideways"
            shot(page, f"antifraud-phone-{language}-{path.strip('/').replace('/', '-')}")
    finally:
        context.close()
