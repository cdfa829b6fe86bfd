"""Erasing a partner in Chromium: from the partner list to the confirmation page, a
refusal while a payout is in flight, then the erasure and the list that shows it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from partners.models import PartnerProfile
from prm.models import Role, Tenant
from prm.tenancy import tenant_scope
from rewards.services.payouts import payout_mark_paid, payout_reject
from tests.e2e.helpers import Site, shot
from tests.factories import PASSWORD, MembershipFactory, TenantFactory, UserFactory
from tests.rewards.console_world import World, build

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(site: Site) -> World:
    tenant: Tenant = TenantFactory(name="Acme", slug="acme")
    owner = MembershipFactory(
        tenant=tenant, role=Role.OWNER, user=UserFactory(email="owner@acme.test")
    ).user
    world = build(tenant, owner)
    with tenant_scope(tenant):
        payout_mark_paid(payout=world.approved, actor=owner)  # the card payout stays requested
    return world


def test_staff_erase_a_partner_through_the_confirmation_page(page: Page, site: Site, world: World):
    base = site.tenant("acme")
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", "owner@acme.test")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name=re.compile(r"^sign in$", re.I)).click()
    page.goto(f"{base}/manage/partners/")
    page.locator(f'tr[data-partner="{world.alice.pk}"]').get_by_role("link", name="Erase…").click()
    expect(page.locator("h1")).to_have_text("Erase the personal data of Alice")
    expect(page.locator("#erase-kept")).to_contain_text("Payouts: Paid")
    expect(page.locator("#erase-refusal")).to_contain_text("payout in progress")

    page.get_by_label("The partner's e-mail, to confirm").fill("alice@example.test")
    page.get_by_label("Reason (kept in the audit log)").fill("their request, ticket 4711")
    page.get_by_role("button", name="Erase their personal data").click()
    expect(page.locator(".errors")).to_contain_text("payout in progress")
    expect(page.locator("#erase-refusal")).to_have_count(0)  # said once, in the form
    shot(page, "console-privacy-refused")

    with tenant_scope(world.tenant):
        payout_reject(payout=world.requested, actor=None, reason="asked to be erased")
    page.goto(f"{base}/manage/partners/{world.alice.pk}/erase/")
    expect(page.locator("#erase-refusal")).to_have_count(0)
    page.get_by_label("The partner's e-mail, to confirm").fill("alice@example.test")
    page.get_by_label("Reason (kept in the audit log)").fill("their request, ticket 4711")
    page.get_by_role("button", name="Erase their personal data").click()
    expect(page.locator(".messages")).to_contain_text("personal data was erased")
    row = page.locator(f'tr[data-partner="{world.alice.pk}"]')
    expect(row).to_contain_text("Erased")
    expect(row).not_to_contain_text("Alice")
    expect(row.get_by_role("button", name="Unblock")).to_have_count(0)
    shot(page, "console-privacy-erased")
    with tenant_scope(world.tenant):
        assert PartnerProfile.objects.get(pk=world.alice.pk).erased_at is not None
