"""The foundation end to end: a workspace is asked for on the platform host, its owner
follows the e-mailed link, chooses a password and signs in on the tenant host, turns on two-factor
authentication and reaches the console; partners sign up into the cabinet; the
language switch works; every page runs under the Content-Security-Policy."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from partners.models import PartnerProfile
from prm.models import Membership, Role, Tenant, User
from tests.e2e.helpers import Site, last_link, shot, totp_now
from tests.factories import PASSWORD, MembershipFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.e2e

OWNER_EMAIL = "founder@initech.test"
OWNER_PASSWORD = "Tps-report-cover-42"


def sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name=re.compile(r"^sign in$", re.I)).click()


def sign_out(page: Page) -> None:
    page.locator(".topbar").get_by_role("button", name="Sign out").click()
    expect(page.locator(".topbar .who")).to_have_count(0)


def open_totp_setup(page: Page, base: str, password: str) -> str:
    """Open the authenticator setup (allauth asks for the password again first: a
    fresh sign-in does not count as re-authentication) and return the secret."""
    page.goto(f"{base}/accounts/2fa/totp/activate/")
    if "/accounts/reauthenticate/" in page.url:
        page.fill("input[name=password]", password)
        page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(f"{base}/accounts/2fa/totp/activate/")
    return page.input_value("#authenticator_secret")


def enter_totp(page: Page, secret: str, button: str) -> None:
    page.fill("input[name=code]", totp_now(secret))
    page.get_by_role("button", name=button).click()


def test_a_visitor_creates_a_workspace_and_reaches_the_console_with_2fa(page: Page, site: Site):
    # The landing page on the platform host.
    response = page.goto(f"{site.platform}/")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("h2", has_text="Create your workspace")).to_be_visible()
    shot(page, "landing")
    page.fill("input[name=name]", "Initech")
    page.fill("input[name=slug]", "initech")
    page.fill("input[name=email]", OWNER_EMAIL)
    expect(page.locator("input[type=password]")).to_have_count(0)
    page.get_by_role("button", name="Create workspace").click()

    # The same answer for every address: check your e-mail. Nothing exists yet.
    expect(page).to_have_url(f"{site.platform}/workspace/sent/")
    expect(page.locator("h1")).to_have_text("Check your e-mail")
    shot(page, "check_email")
    assert not Tenant.objects.filter(slug="initech").exists()

    # The link (platform host, live server port) asks a new address for a password.
    link = last_link(OWNER_EMAIL)
    assert link.startswith(f"{site.platform}/workspace/confirm/"), link
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Create Initech")
    shot(page, "choose_password")
    page.fill("input[name=password1]", OWNER_PASSWORD)
    page.fill("input[name=password2]", OWNER_PASSWORD)
    page.get_by_role("button", name="Create workspace").click()

    # "Your workspace is ready", pointing at the new tenant host.
    expect(page.locator("h1")).to_have_text("Your workspace is ready")
    tenant_url = site.tenant("initech")
    expect(page.locator("#workspace-url")).to_have_text(tenant_url)
    shot(page, "workspace_ready")
    tenant = Tenant.objects.get(slug="initech")
    owner = User.objects.get(email=OWNER_EMAIL)
    assert Membership.all_tenants_unscoped.get(tenant=tenant, user=owner).role == Role.OWNER
    # The link reached the address: it is verified, no second confirmation.
    assert owner.emailaddress_set.get().verified

    # Sessions are per host: sign in on the workspace's host, land in the console.
    page.locator("#workspace-url").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    shot(page, "login")
    sign_in(page, tenant_url, OWNER_EMAIL, OWNER_PASSWORD)
    expect(page).to_have_url(f"{tenant_url}/manage/")
    expect(page.locator("main h1")).to_have_text("Overview")

    # Two-factor setup: read the secret off the page, answer with the current code.
    secret = open_totp_setup(page, tenant_url, OWNER_PASSWORD)
    assert re.fullmatch(r"[A-Z2-7]{16,}=*", secret), secret
    shot(page, "totp_activate")
    enter_totp(page, secret, "Activate")
    expect(page.locator(".messages")).to_contain_text("activated")
    shot(page, "recovery_codes")
    page.goto(f"{tenant_url}/manage/")
    expect(page.locator("main h1")).to_have_text("Overview")
    expect(page.locator(".topbar .who")).to_have_text(OWNER_EMAIL)
    shot(page, "console_overview")

    # Next time the password alone is not enough.
    sign_out(page)
    sign_in(page, tenant_url, OWNER_EMAIL, OWNER_PASSWORD)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    shot(page, "totp_authenticate")
    enter_totp(page, secret, "Sign In")
    expect(page).to_have_url(f"{tenant_url}/manage/")
    expect(page.locator("main h1")).to_have_text("Overview")


def test_an_existing_account_creates_another_workspace_by_e_mail_link(page: Page, site: Site):
    owner = UserFactory(email="founder@initech.test")
    page.goto(f"{site.platform}/")
    page.fill("input[name=name]", "Initrode")
    page.fill("input[name=slug]", "initrode")
    page.fill("input[name=email]", owner.email)
    page.get_by_role("button", name="Create workspace").click()
    # Word for word the answer a new address gets.
    expect(page.locator("h1")).to_have_text("Check your e-mail")

    # The link signs its addressee in on the way, then asks for a confirmation.
    page.goto(last_link(owner.email))
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/workspace/confirm/"))
    page.fill("input[name=login]", owner.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name=re.compile(r"^sign in$", re.I)).click()
    expect(page.locator("h1")).to_have_text("Create Initrode")
    shot(page, "confirm_workspace")
    page.get_by_role("button", name="Create workspace").click()
    expect(page.locator("h1")).to_have_text("Your workspace is ready")
    tenant = Tenant.objects.get(slug="initrode")
    assert Membership.all_tenants_unscoped.get(tenant=tenant, user=owner).role == Role.OWNER


def test_staff_without_2fa_are_sent_to_set_it_up_when_the_owner_requires_it(page: Page, site: Site):
    tenant = TenantFactory(name="Hooli", slug="hooli", require_staff_2fa=True)
    manager = MembershipFactory(
        tenant=tenant, role=Role.MANAGER, user=UserFactory(email="gavin@hooli.test")
    ).user
    base = site.tenant("hooli")

    sign_in(page, base, manager.email, PASSWORD)
    expect(page).to_have_url(f"{base}/security/2fa-required/")
    expect(page.locator("h1")).to_have_text("Set up two-factor authentication")
    shot(page, "twofactor_required")
    page.goto(f"{base}/manage/team/")
    expect(page).to_have_url(f"{base}/security/2fa-required/")

    page.get_by_role("link", name="Set up an authenticator app").click()
    secret = open_totp_setup(page, base, PASSWORD)
    enter_totp(page, secret, "Activate")
    page.goto(f"{base}/manage/")
    expect(page.locator("main h1")).to_have_text("Overview")


def test_a_partner_signs_up_on_the_tenant_host_and_cannot_open_the_console(page: Page, site: Site):
    TenantFactory(name="Acme", slug="acme")
    base = site.tenant("acme")
    email = "wile@coyote.test"

    page.goto(f"{base}/")
    page.get_by_role("link", name="Become a partner").click()
    expect(page).to_have_url(f"{base}/accounts/signup/")
    shot(page, "partner_signup")
    page.fill("input[name=email]", email)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.get_by_role("button", name=re.compile(r"^sign up$", re.I)).click()
    expect(page).to_have_url(f"{base}/accounts/confirm-email/")

    link = last_link(email)
    assert link.startswith(f"{base}/accounts/confirm-email/"), link
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()

    # Signed in by the confirmation, in the cabinet.
    expect(page).to_have_url(f"{base}/")
    expect(page.locator("main h1")).to_contain_text("Hello")
    expect(page.locator(".topbar .who")).to_have_text(email)
    shot(page, "cabinet")
    profile = PartnerProfile.all_tenants_unscoped.get(user__email=email)
    assert profile.tenant.slug == "acme"

    response = page.goto(f"{base}/manage/")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")
    shot(page, "forbidden")


def test_the_language_switch_turns_the_page_russian(page: Page, site: Site):
    page.goto(f"{site.platform}/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    with page.expect_navigation():
        page.select_option("#lang-select", "ru")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    shot(page, "landing_ru")
    expect(page.locator("#lang-select")).to_have_value("ru")
    assert page.url == f"{site.platform}/"

    # The choice (a cookie of this host) holds on the next page too.
    page.goto(f"{site.platform}/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "ru")


def test_a_csp_violation_fails_the_test(page: Page, site: Site, browser_log):
    # The watcher itself: a page under the policy with an inline script is caught.
    url = f"{site.platform}/__csp_probe__"
    page.route(
        url,
        lambda route: route.fulfill(
            status=200,
            headers={
                "Content-Type": "text/html",
                "Content-Security-Policy": "script-src 'self'",
            },
            body="<!DOCTYPE html><html><body><script>document.title='x'</script></body></html>",
        ),
    )
    page.goto(url)
    page.wait_for_timeout(100)
    assert browser_log.csp_violations, browser_log.console_errors
    assert page.title() != "x"
    browser_log.csp_violations.clear()
