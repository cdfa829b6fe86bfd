"""Referral tracking end to end in Chromium: a client site on its own host embeds the
tenant's snippet; visitors arrive by partners' links, browse, come back, sign up."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import BrowserContext, Page, expect

from partners.models import PartnerProfile
from prm.models import Tenant
from prm.tenancy import tenant_scope
from programs.models import Click, Conversion, Lead, Program
from programs.services.enrollments import enrollment_create
from tests.e2e.client_site import client_site
from tests.e2e.helpers import Site
from tests.factories import PartnerFactory, TenantFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tenant(site: Site) -> Tenant:
    return TenantFactory(name="Acme", slug="acme")


@pytest.fixture
def program(tenant: Tenant) -> Program:
    return Program.all_tenants_unscoped.create(
        tenant=tenant,
        name="Pro",
        currency="USD",
        status=Program.Status.ACTIVE,
        landing_urls="http://client.localhost/",
        cookie_days=30,
    )


def enroll(tenant: Tenant, program: Program, code: str) -> PartnerProfile:
    partner = PartnerFactory(tenant=tenant, user=UserFactory(email=f"{code.lower()}@example.test"))
    with tenant_scope(tenant):
        enrollment_create(tenant=tenant, program=program, partner=partner, code=code)
    return partner


@pytest.fixture
def client_url(site: Site, program: Program):
    origin = site.tenant("acme")
    with client_site(f"{origin}/t/{program.publishable_key}.js", origin) as url:
        yield url


def eventually(check, seconds: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def wait_for_snippet(page: Page) -> None:
    page.wait_for_function("typeof window.prm === 'function' && !window.prm.q")


def sign_up(page: Page, email: str) -> str:
    wait_for_snippet(page)
    page.fill("input[name=email]", email)
    page.click("button[type=submit]")
    result = page.locator("#result")
    expect(result).not_to_have_text("sending")
    expect(result).not_to_have_text("")
    return result.inner_text()


def cookie(context: BrowserContext, host: str = "client.localhost") -> dict[str, str]:
    from urllib.parse import parse_qsl, unquote

    for c in context.cookies():
        if c["name"] == "_prm" and c["domain"].lstrip(".") == host:
            return dict(parse_qsl(unquote(c["value"])))
    return {}


def stored(tenant: Tenant, model):  # type: ignore[no-untyped-def]
    with tenant_scope(tenant):
        return list(model.objects.order_by("created_at"))


def test_a_visitor_by_link_who_returns_later_becomes_the_partners_lead(
    page: Page, tenant: Tenant, program: Program, client_url: str
):
    alice = enroll(tenant, program, "ALICE")
    page.goto(f"{client_url}/?ref=ALICE&sub=yt")
    wait_for_snippet(page)
    jar = cookie(page.context)
    assert jar["c"] == "ALICE" and len(jar["v"]) >= 8
    page.click("#pricing")  # browse
    page.wait_for_load_state()
    page.goto(f"{client_url}/")  # a later visit, no parameter
    assert sign_up(page, "ann@example.com") == "credited"
    result = page.locator("#result")
    assert result.get_attribute("data-ref") == "ALICE"
    assert result.get_attribute("data-visitor") == jar["v"]
    [lead] = stored(tenant, Lead)
    assert lead.partner == alice
    assert lead.visitor_id == jar["v"]
    eventually(lambda: len(stored(tenant, Click)) == 1)
    [click] = stored(tenant, Click)  # one click: the arrival; browsing sent none
    assert (click.code, click.sub_id, click.visitor_id) == ("ALICE", "yt", jar["v"])
    assert click.landing_url.startswith(f"{client_url}/?ref=ALICE")


@pytest.mark.parametrize(
    ("model", "winner"),
    [(Program.Attribution.LAST_CLICK, "BOB"), (Program.Attribution.FIRST_CLICK, "ALICE")],
)
def test_first_and_last_click_with_two_partners(
    page: Page, tenant: Tenant, program: Program, client_url: str, model: str, winner: str
):
    Program.all_tenants_unscoped.filter(pk=program.pk).update(attribution=model)
    partners = {"ALICE": enroll(tenant, program, "ALICE"), "BOB": enroll(tenant, program, "BOB")}
    page.goto(f"{client_url}/?ref=ALICE")
    wait_for_snippet(page)
    page.goto(f"{client_url}/pricing?ref=BOB")
    wait_for_snippet(page)
    assert cookie(page.context)["c"] == winner
    assert sign_up(page, "bo@example.com") == "credited"
    [lead] = stored(tenant, Lead)
    assert lead.partner == partners[winner]
    eventually(lambda: {c.code for c in stored(tenant, Click)} == {"ALICE", "BOB"})


def test_an_expired_cookie_credits_nobody(
    page: Page, tenant: Tenant, program: Program, client_url: str
):
    enroll(tenant, program, "ALICE")
    page.goto(f"{client_url}/?ref=ALICE")
    wait_for_snippet(page)
    visitor = cookie(page.context)["v"]
    # The cookie was set 31 days ago and its click is as old (window: 30 days).
    old = int(time.time()) - 31 * 86400
    page.context.add_cookies(
        [{"name": "_prm", "value": f"v%3D{visitor}%26c%3DALICE%26t%3D{old}", "url": client_url}]
    )
    eventually(lambda: Click.all_tenants_unscoped.exists())  # the beacon is asynchronous
    Click.all_tenants_unscoped.update(created_at=timezone.now() - timedelta(days=31))
    page.goto(f"{client_url}/")
    assert sign_up(page, "late@example.com") == "not credited"
    assert stored(tenant, Lead)[0].partner is None


def test_a_blocked_partner_gets_no_credit_and_the_click_is_kept_as_rejected(
    page: Page, tenant: Tenant, program: Program, client_url: str
):
    alice = enroll(tenant, program, "ALICE")
    PartnerProfile.all_tenants_unscoped.filter(pk=alice.pk).update(
        status=PartnerProfile.Status.BLOCKED
    )
    page.goto(f"{client_url}/?ref=ALICE")
    assert sign_up(page, "bl@example.com") == "not credited"
    eventually(lambda: len(stored(tenant, Click)) == 1)
    [click] = stored(tenant, Click)
    assert click.status == Click.Status.REJECTED
    assert click.reject_reason == "partner_blocked"


def test_a_paused_program_credits_nobody_and_keeps_the_click_as_rejected(
    page: Page, tenant: Tenant, program: Program, client_url: str
):
    enroll(tenant, program, "ALICE")
    Program.all_tenants_unscoped.filter(pk=program.pk).update(status=Program.Status.PAUSED)
    page.goto(f"{client_url}/?ref=ALICE")
    assert sign_up(page, "paused@example.com") == "error 400"
    eventually(lambda: len(stored(tenant, Click)) == 1)
    [click] = stored(tenant, Click)
    assert click.status == Click.Status.REJECTED
    assert click.reject_reason == "program_paused"
    assert stored(tenant, Lead) == []


def test_the_demo_shop_journey_with_a_promo_code(page: Page, site: Site, settings):
    settings.PRM_DEMO_SHOP = True
    call_command("prm_demo")
    shop = f"http://shop.localhost:{site.port}"
    page.goto(f"{shop}/?ref=ALICE")
    page.wait_for_function("typeof window.prm === 'function'")
    # The shop also shows the recruitment widget (its own name and e-mail inputs).
    expect(page.locator("#partners h2").last).to_have_text("Become our partner")
    page.fill("#signup-form input[name=name]", "Nina Newcomer")
    page.fill("#signup-form input[name=email]", "nina@example.com")
    page.click("#signup-form button")
    page.wait_for_url(f"{shop}/account")
    page.fill("input[name=promo_code]", "bobsaves")  # Bob's code outranks Alice's cookie
    page.click("#buy-form button")
    expect(page.locator("#credited-partner")).to_have_text("Bob Blogger")
    acme = Tenant.objects.get(slug="acme")
    with tenant_scope(acme):
        lead = Lead.objects.get(email="nina@example.com")
        assert str(lead.partner) == "Alice Partner"
        conversion = Conversion.objects.get(customer_email="nina@example.com")
        assert conversion.attribution["winner"]["via"] == "promo_code"
        assert Click.objects.filter(code="ALICE", visitor_id=lead.visitor_id).exists()
