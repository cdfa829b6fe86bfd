"""The console's money pages in Chromium: every page loads without CSP violations or
script errors, a rule edit is previewed before it is saved, rewards are approved in
bulk with the "select all" box."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from prm.models import Role, Tenant
from prm.tenancy import tenant_scope
from rewards.models import Reward
from rewards.services.accrual import month_start
from tests.e2e.helpers import Site, shot
from tests.factories import PASSWORD, MembershipFactory, TenantFactory, UserFactory
from tests.rewards.console_world import World, build
from tests.rewards.helpers import sale

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tenant(site: Site) -> Tenant:
    return TenantFactory(name="Acme", slug="acme")


@pytest.fixture
def world(tenant: Tenant) -> World:
    owner = MembershipFactory(
        tenant=tenant, role=Role.OWNER, user=UserFactory(email="owner@acme.test")
    ).user
    world = build(tenant, owner)
    last_month = month_start(month_start(timezone.now()) - timedelta(days=1)) + timedelta(days=2)
    with tenant_scope(tenant):
        sale(world.program, world.alice, "1000.00", at=last_month, accrue=False)
    return world


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name=re.compile(r"^sign in$", re.I)).click()
    expect(page.locator(".topbar .who")).to_have_text(email)


def test_every_money_page_loads_cleanly(page: Page, site: Site, world: World):
    base = site.tenant("acme")
    sign_in(page, base, "owner@acme.test")
    pages = {
        "rules": f"/manage/programs/{world.program.pk}/rewards/",
        "rule-form": f"/manage/rewards/rules/{world.rule.pk}/edit/",
        "rewards": "/manage/rewards/",
        "ledger": f"/manage/partners/{world.alice.pk}/ledger/",
        "verify": "/manage/rewards/verify/",
        "corrections": "/manage/rewards/corrections/",
        "rates": "/manage/rates/",
        "payouts": "/manage/payouts/?tab=approved",
        "methods": "/manage/payouts/methods/",
        "method-form": f"/manage/payouts/methods/{world.card.pk}/edit/",
        "batch": f"/manage/payouts/batches/{world.batch.pk}/",
    }
    for name, path in pages.items():
        response = page.goto(base + path)
        assert response is not None and response.status == 200, path
        expect(page.locator("h1")).to_be_visible()
        shot(page, f"console-money-{name}")
    page.locator(".sidebar").get_by_role("link", name="Rates").click()
    expect(page.locator(".sidebar a.active")).to_have_text("Rates")


def test_a_rule_edit_is_previewed_then_saved(page: Page, site: Site, world: World):
    base = site.tenant("acme")
    sign_in(page, base, "owner@acme.test")
    page.goto(f"{base}/manage/programs/{world.program.pk}/rewards/")
    page.locator(f'tr[data-rule="{world.rule.pk}"]').get_by_role("link", name="Edit").click()
    page.get_by_label("Amount or percent").fill("25")
    page.get_by_role("button", name="Preview").click()
    row = page.locator(f'#preview-table tr[data-partner="{world.alice.pk}"]')
    expect(row).to_contain_text("100.00 USD")
    expect(row).to_contain_text("250.00 USD")
    shot(page, "console-money-preview")
    world.rule.refresh_from_db()
    assert world.rule.value == 10  # a preview saves nothing

    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Rule saved")
    world.rule.refresh_from_db()
    assert world.rule.value == 25


def test_rewards_are_approved_in_bulk(page: Page, site: Site, world: World):
    base = site.tenant("acme")
    with tenant_scope(world.tenant):
        pending = Reward.objects.filter(status=Reward.Status.PENDING).count()
    sign_in(page, base, "owner@acme.test")
    page.goto(f"{base}/manage/rewards/?status=pending")
    page.get_by_label("Select all").check()
    page.locator("#bulk-action").select_option("approve")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".messages")).to_contain_text(f"{pending} rewards approved.")
    with tenant_scope(world.tenant):
        assert not Reward.objects.filter(status=Reward.Status.PENDING).exists()


def test_a_large_correction_is_confirmed_then_waits_for_a_second_person(
    page: Page, site: Site, world: World
):
    MembershipFactory(
        tenant=world.tenant, role=Role.FINANCE, user=UserFactory(email="finance@acme.test")
    )
    base = site.tenant("acme")
    sign_in(page, base, "owner@acme.test")
    page.goto(f"{base}/manage/partners/{world.alice.pk}/ledger/")
    page.get_by_label("Kind").select_option("penalty")
    page.get_by_label("Amount").fill("7500")
    page.get_by_label("Reason shown to the partner").fill("Chargebacks")
    page.get_by_role("button", name="Add the entry").click()
    expect(page.locator("#confirm-balance")).to_contain_text("-7,500.00 USD")
    shot(page, "console-money-correction-confirm")
    page.get_by_role("button", name="Ask for the second approval").click()
    expect(page.locator("#corrections-waiting")).to_contain_text("Chargebacks")

    page.context.clear_cookies()  # the second person, in another session
    sign_in(page, base, "finance@acme.test")
    page.goto(f"{base}/manage/rewards/corrections/")
    page.get_by_role("button", name="Approve and post").click()
    expect(page.locator("#corrections-decided")).to_contain_text("Approved")
    page.goto(f"{base}/manage/partners/{world.alice.pk}/ledger/")
    expect(page.locator("#entries")).to_contain_text("-7,500.00")
