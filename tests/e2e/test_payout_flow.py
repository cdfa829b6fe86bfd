"""A payout end to end in Chromium: the partner adds a card and withdraws, an admin in
another browser approves and marks it paid, the partner sees it paid."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from prm.models import Role, Tenant
from prm.tenancy import tenant_scope
from programs.services.enrollments import enrollment_create
from rewards.models import PayoutDetails, PayoutMethod, PayoutRequest, Reward
from rewards.services.approvals import reward_approve
from tests.e2e.conftest import TIMEOUT_MS, BrowserLog
from tests.e2e.helpers import Site, shot
from tests.factories import PASSWORD, MembershipFactory, PartnerFactory, TenantFactory, UserFactory
from tests.rewards.helpers import D, make_program, rule, sale

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tenant(site: Site) -> Tenant:
    return TenantFactory(name="Acme", slug="acme")


@pytest.fixture
def card(tenant: Tenant) -> PayoutMethod:
    """Alice has 100 USD available; the card costs 1 USD + 2 % per payout."""
    with tenant_scope(tenant):
        program = make_program(tenant)
        rule(program, value=D("10"))
        alice = PartnerFactory(tenant=tenant, user=UserFactory(email="alice@example.test"))
        enrollment_create(tenant=tenant, program=program, partner=alice, code="ALICE")
        conversion = sale(program, alice, "1000")
        reward_approve(reward=Reward.objects.get(conversion=conversion))
        return PayoutMethod.objects.create(
            tenant=tenant,
            kind=PayoutMethod.Kind.CARD,
            name="Visa card",
            currency="USD",
            fee_fixed=D("1.00"),
            fee_percent=D("2"),
            minimum=D("20"),
        )


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name=re.compile(r"^sign in$", re.I)).click()
    expect(page.locator(".topbar .who")).to_have_text(email)


def test_a_partner_withdraws_and_an_admin_pays_it(
    page: Page, browser: Browser, browser_log: BrowserLog, site: Site, tenant: Tenant, card
):
    base = site.tenant("acme")
    admin = MembershipFactory(
        tenant=tenant, role=Role.ADMIN, user=UserFactory(email="admin@acme.test")
    ).user

    # The partner adds a card and asks for 80 of the 100 USD available.
    sign_in(page, base, "alice@example.test")
    page.locator(".topnav").get_by_role("link", name="Payouts").click()
    expect(page.locator("#balances")).to_contain_text("100.00 USD")
    method = page.locator(f"#method-{card.pk}")
    method.get_by_label("Card number").fill("4242 4242 4242 4242")
    method.get_by_label("Account holder").fill("Alice Smith")
    method.get_by_role("button", name="Save details").click()
    expect(page.locator(".messages")).to_contain_text("Payout details for Visa card saved.")
    expect(method.locator(".details-current")).to_contain_text("•••• 4242")
    assert "4242 4242 4242 4242" not in page.content()
    withdraw = page.locator("#withdraw-form")
    expect(withdraw.get_by_label("Amount")).to_have_value("100.00")
    withdraw.get_by_label("Amount").fill("80")
    withdraw.get_by_role("button", name="Continue").click()
    expect(page.locator("#confirm-amount")).to_have_text("80.00 USD")
    expect(page.locator("#confirm-fee")).to_have_text("2.60 USD")
    expect(page.locator("#confirm-net")).to_have_text("77.40 USD")
    shot(page, "payout-confirm")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator(".messages")).to_contain_text("Payout of 80.00 USD requested.")
    with tenant_scope(tenant):
        [payout] = PayoutRequest.objects.all()
        assert PayoutDetails.objects.get().masked == "•••• 4242"
    status = page.locator(f'tr[data-payout="{payout.pk}"] .payout-status')
    expect(status).to_contain_text("Requested")

    # An admin, signed in in another browser, approves it and marks it paid.
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 860})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        console = context.new_page()
        console.on("console", browser_log.on_console)
        console.on("pageerror", browser_log.on_page_error)
        console.on("response", browser_log.on_response)
        sign_in(console, base, admin.email)
        console.goto(f"{base}/manage/payouts/")
        row = console.locator(f'tr[data-payout="{payout.pk}"]')
        expect(row).to_contain_text("•••• 4242")
        row.get_by_role("button", name="Approve").click()
        expect(console.locator(".messages")).to_contain_text("approved")
        console.goto(f"{base}/manage/payouts/?tab=approved")
        console.once("dialog", lambda dialog: dialog.accept())  # "Mark this payout paid?"
        row.get_by_role("button", name="Mark paid").click()
        expect(console.locator(".messages")).to_contain_text("marked paid")
    finally:
        context.close()

    # The partner reloads and sees it paid.
    page.reload()
    expect(status).to_contain_text("Paid")
    with tenant_scope(tenant):
        payout.refresh_from_db()
    assert payout.status == PayoutRequest.Status.PAID
    expect(status).to_contain_text(f"on {payout.paid_at:%Y-%m-%d}")
    expect(page.locator("#balances")).to_contain_text("77.40 USD")  # paid
    shot(page, "payouts-paid")
    page.locator(".topnav").get_by_role("link", name="Earnings").click()
    expect(page.locator("#ledger")).to_contain_text("Withdrawal paid out")
    shot(page, "earnings")
