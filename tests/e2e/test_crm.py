"""The CRM console in Chromium against a real fake amoCRM server: an owner connects it
with a long-lived token or through its OAuth consent page, works every button of the
status page (subscribe, sync all, test, reconcile, pause, disconnect), maps fields and
stages; a deal won on the fake's own page pays the partner, who sees it in the cabinet;
a conflict is settled and a dead letter retried. A manager has no CRM pages.

The live server and the fake talk over real HTTP on 127.0.0.1 both ways (the fake sends
its webhooks to ``acme.localhost:PORT`` with the Host header), and jobs run inline, so
every push and every pull happens before the page that caused it is answered."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, expect

from integrations.models import CrmConflict, CrmConnection, CrmFieldMap, CrmOutbox, CrmStageMap
from integrations.services.connections import connection_subscribe
from partners.models import PartnerProfile
from prm.models import Role, Tenant, User
from prm.tenancy import tenant_scope
from programs.models import Conversion, Lead, Program
from programs.services.leads import LeadInput, lead_create, lead_update_contact
from rewards.models import Reward
from tests.e2e.conftest import TIMEOUT_MS, BrowserLog
from tests.e2e.helpers import Site, shot
from tests.factories import PASSWORD, MembershipFactory, TenantFactory, UserFactory
from tests.fakes.amocrm import FakeAmo
from tests.integrations.conftest import connect
from tests.rewards.helpers import D, make_partner, make_program, rule

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CRM = "/manage/integrations/amocrm"


@pytest.fixture
def fake(site: Site) -> Iterator[FakeAmo]:
    # The redirect URI registered with the (fake) integration: its consent page sends
    # the browser back there.
    server = FakeAmo(auth_kind="token", redirect_uri=f"{site.tenant('acme')}{CRM}/oauth/callback/")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def tenant(site: Site) -> Tenant:
    tenant = TenantFactory(name="Acme", slug="acme")
    MembershipFactory(tenant=tenant, role=Role.OWNER, user=UserFactory(email="owner@acme.test"))
    return tenant


@pytest.fixture
def program(tenant: Tenant) -> Program:
    with tenant_scope(tenant):
        program = make_program(tenant, name="Pro plan")
        rule(program, value=D("10"))  # 10 % of every won deal
    return program


@pytest.fixture
def alice(tenant: Tenant, program: Program) -> PartnerProfile:
    with tenant_scope(tenant):
        return make_partner(tenant, program, "ALICE", display_name="Alice Agency")


def register_lead(program: Program, partner: PartnerProfile, email: str) -> Lead:
    """The partner registers a deal; with a connection, it is pushed on commit."""
    with tenant_scope(program.tenant):
        return lead_create(
            tenant=program.tenant,
            program=program,
            source=Lead.Source.CABINET,
            data=LeadInput(name="Bob Buyer", email=email, company="Bob's Bikes"),
            partner=partner,
        )


def connect_to(fake: FakeAmo, program: Program) -> CrmConnection:
    with tenant_scope(program.tenant):
        return connect(program.tenant, fake, program)


def crm_id_of(crm: CrmConnection, lead: Lead) -> str:
    with tenant_scope(crm.tenant):
        return crm.links.get(lead=lead).crm_id


def hook_url(site: Site, crm: CrmConnection) -> str:
    return f"{site.tenant('acme')}/hooks/crm/{crm.hook_secret}/"


def subscribed(fake: FakeAmo) -> list[str]:
    return [hook["destination"] for hook in fake.world.webhooks]


def wait_until(check: Callable[[], Any], what: str, seconds: float = TIMEOUT_MS / 1000) -> Any:
    """For what happens on the server after the page was answered."""
    deadline = time.monotonic() + seconds
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return found


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name=re.compile(r"^sign in$", re.I)).click()
    expect(page.locator(".topbar .who")).to_have_text(email)


def signed_in(page: Page, base: str, email: str) -> None:
    """A session cookie set straight in the browser: the sign-in form is driven by the
    first test, the partner and the manager, which is enough."""
    client = Client()
    client.force_login(User.objects.get(email=email))
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": base}]
    )


def watched(context: BrowserContext, log: BrowserLog) -> Page:
    page = context.new_page()
    page.on("console", log.on_console)
    page.on("pageerror", log.on_page_error)
    page.on("response", log.on_response)
    return page


def test_an_owner_connects_amocrm_with_a_long_lived_token(
    page: Page, site: Site, fake: FakeAmo, program: Program
):
    base = site.tenant("acme")
    sign_in(page, base, "owner@acme.test")
    page.locator(".sidebar").get_by_role("link", name="CRM integrations").click()
    card = page.locator('#crm-cards section[data-provider="amocrm"]')
    expect(card).to_contain_text("Not connected.")
    shot(page, "crm-list")
    card.get_by_role("link", name="Connect").click()
    expect(page).to_have_url(f"{base}{CRM}/connect/")

    form = page.locator("#crm-connect-form")
    form.get_by_label("How to connect").select_option("token")
    form.get_by_label("Account address").fill(fake.base_url)
    form.get_by_label("Long-lived token").fill(
        fake.connection_config()["credentials"]["access_token"]
    )
    form.get_by_label("Currency of deal amounts").fill("USD")
    form.get_by_label("Program for leads created in the CRM").select_option(label="Pro plan")
    shot(page, "crm-connect")
    form.get_by_role("button", name="Save and test").click()

    expect(page).to_have_url(f"{base}{CRM}/")
    expect(page.locator(".messages")).to_contain_text("Connected to Acme Ltd (acme).")
    expect(page.locator("#crm-state")).to_have_text("Active")
    expect(page.locator("h1")).to_contain_text("Acme Ltd")
    expect(page.locator("#crm-status")).to_contain_text("Pro plan")
    with tenant_scope(program.tenant):
        crm = CrmConnection.objects.get()
        assert crm.credentials == {"access_token": fake.token}
        assert crm.settings["currency"] == "USD"
        assert crm.settings["account_id"] == str(fake.account_id)
        assert crm.stages.filter(semantic="won").exists()
    assert fake.calls("GET", "/api/v4/account")

    page.locator(".crumbs").get_by_role("link", name="CRM integrations").click()
    expect(card).to_contain_text("Active")
    expect(card).to_contain_text("Acme Ltd")
    expect(card.get_by_role("link", name="Manage")).to_be_visible()


def test_an_owner_connects_amocrm_through_its_consent_page(
    page: Page, site: Site, fake: FakeAmo, program: Program
):
    base = site.tenant("acme")
    signed_in(page, base, "owner@acme.test")
    page.goto(f"{base}{CRM}/connect/")
    form = page.locator("#crm-connect-form")
    form.get_by_label("How to connect").select_option("oauth")
    form.get_by_label("Account address").fill(fake.base_url)
    form.get_by_label("Integration id").fill(fake.client_id)
    form.get_by_label("Secret key").fill(fake.client_secret)
    form.get_by_label("Consent page host").fill(fake.base_url)
    form.get_by_label("Currency of deal amounts").fill("USD")
    form.get_by_role("button", name="Save and test").click()
    expect(page.locator(".messages")).to_contain_text("Saved. Now authorize access in the CRM.")
    # Off to the CRM's consent page, which grants at once and sends the browser back.
    page.get_by_role("link", name="Authorize in the CRM").click()

    expect(page).to_have_url(f"{base}{CRM}/")
    expect(page.locator(".messages")).to_contain_text("Connected to Acme Ltd (acme).")
    expect(page.locator("#crm-state")).to_have_text("Active")
    [consent] = fake.calls("POST", "/oauth2/access_token")
    assert consent.body["grant_type"] == "authorization_code"
    assert consent.body["redirect_uri"] == fake.redirect_uri
    with tenant_scope(program.tenant):
        credentials = CrmConnection.objects.get().credentials
    assert credentials["client_id"] == fake.client_id
    assert credentials["access_token"] and credentials["refresh_token"]
    page.locator("nav.tabs").get_by_role("link", name="Credentials").click()
    expect(page.locator("#crm-authorize")).to_have_text("Authorize again in the CRM")


def test_every_button_of_the_status_page_works(
    page: Page, site: Site, fake: FakeAmo, program: Program, alice: PartnerProfile
):
    lead = register_lead(program, alice, "bob@customer.test")  # before the connection
    crm = connect_to(fake, program)
    assert fake.records() == []
    base = site.tenant("acme")
    signed_in(page, base, "owner@acme.test")
    page.goto(f"{base}{CRM}/")
    expect(page.locator("#hook-url")).to_have_text(hook_url(site, crm))
    expect(page.locator('#crm-health tr[data-metric="queue_depth"]')).to_be_visible()
    messages = page.locator(".messages")

    page.get_by_role("button", name="Subscribe to CRM events").click()
    expect(messages).to_contain_text("The CRM now sends its changes to this workspace.")
    expect(page.locator("#crm-status")).to_contain_text("subscribed")
    assert subscribed(fake) == [hook_url(site, crm)]

    # "Sync all leads now" asks first (static/js/app.js): saying no sends nothing ...
    pushes: list[str] = []
    page.on("request", lambda r: pushes.append(r.url) if "/do/push_all/" in r.url else None)
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Sync all leads now").click()
    page.get_by_role("button", name="Test connection").click()
    expect(messages).to_contain_text("Connected to Acme Ltd (acme).")
    assert pushes == [] and fake.records() == []
    # ... saying yes pushes every lead.
    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_role("button", name="Sync all leads now").click()
    expect(messages).to_contain_text("1 lead queued for the CRM.")
    assert dialogs[0].startswith("Send every lead to the CRM now?")
    [record] = fake.records()
    assert record["email"] == "bob@customer.test"
    assert crm_id_of(crm, lead) == record["id"]
    push = page.locator("#crm-log tbody tr", has_text="PRM → CRM")
    expect(push).to_have_count(1)
    expect(push.locator("td").nth(2)).to_have_text("1")  # records
    expect(push.locator("td").nth(3)).to_have_text("0")  # failed
    expect(page.locator("#crm-health")).to_contain_text("Records pushed: 1 (0 failed)")
    shot(page, "crm-detail")

    page.get_by_role("button", name="Reconcile now").click()
    expect(messages).to_contain_text("Reconciliation started.")
    expect(page.locator("#crm-log tbody tr", has_text="Polling / reconciliation")).to_have_count(1)
    with tenant_scope(crm.tenant):
        crm.refresh_from_db()
        assert crm.reconciled_at is not None

    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#crm-state")).to_have_text("Paused")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#crm-state")).to_have_text("Active")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Disconnect").click()
    expect(page).to_have_url(f"{base}/manage/integrations/")
    expect(messages).to_contain_text("Disconnected.")
    expect(page.locator('#crm-cards section[data-provider="amocrm"]')).to_contain_text(
        "Not connected."
    )
    assert fake.records()[0]["id"] == record["id"]  # the CRM keeps its records


def test_fields_and_stages_are_mapped(page: Page, site: Site, fake: FakeAmo, program: Program):
    crm = connect_to(fake, program)
    base = site.tenant("acme")
    signed_in(page, base, "owner@acme.test")
    page.goto(f"{base}{CRM}/")
    page.locator("nav.tabs").get_by_role("link", name="Fields").click()
    expect(page.locator("h1")).to_contain_text("field mapping")
    expect(page.get_by_label("PRM lead id: CRM field")).to_have_value("cf:1278898001")

    page.get_by_label("E-mail: on conflict").select_option(label="Manual resolution")
    page.get_by_role("button", name="Save mapping").click()
    expect(page.locator(".messages")).to_contain_text("Field mapping saved.")
    expect(page.get_by_label("E-mail: on conflict")).to_have_value("manual")
    with tenant_scope(crm.tenant):
        assert crm.fields.get(prm_field="email").strategy == CrmFieldMap.Strategy.MANUAL

    page.get_by_label("Company: on conflict").select_option(label="Merge")
    page.get_by_role("button", name="Save mapping").click()
    expect(page.locator('tr[data-field="company"] .error')).to_have_text(
        "Only notes can be merged."
    )
    expect(page.locator(".messages")).to_have_count(0)
    shot(page, "crm-fields")
    with tenant_scope(crm.tenant):
        assert crm.fields.get(prm_field="company").strategy == CrmFieldMap.Strategy.LAST_WRITE

    page.locator("nav.tabs").get_by_role("link", name="Stages").click()
    expect(page.locator('tr[data-stage="3177727:142"]')).to_contain_text("won")
    stage = page.get_by_label("Воронка / Переговоры")
    expect(stage).to_have_value("")
    stage.select_option(label="Qualified")
    page.get_by_role("button", name="Save mapping").click()
    expect(page.locator(".messages")).to_contain_text("Stage mapping saved.")
    expect(stage).to_have_value("qualified")
    shot(page, "crm-stages")
    with tenant_scope(crm.tenant):
        row = CrmStageMap.objects.get(connection=crm, stage_id="32392156")
        assert row.lead_status == Lead.Status.QUALIFIED


def test_a_deal_won_in_the_crm_pays_the_partner(
    page: Page,
    browser: Browser,
    browser_log: BrowserLog,
    site: Site,
    fake: FakeAmo,
    program: Program,
    alice: PartnerProfile,
):
    crm = connect_to(fake, program)
    lead = register_lead(program, alice, "bob@customer.test")  # pushed on commit
    crm_id = crm_id_of(crm, lead)
    base = site.tenant("acme")

    # The owner subscribes the workspace to the CRM's events.
    signed_in(page, base, "owner@acme.test")
    page.goto(f"{base}{CRM}/")
    page.get_by_role("button", name="Subscribe to CRM events").click()
    expect(page.locator(".messages")).to_contain_text("now sends its changes")

    # In the CRM's own page, someone wins the deal for 15 000.
    amo = watched(page.context, browser_log)
    amo.goto(fake.base_url + "/")
    deal = amo.locator("tr").filter(has=amo.locator("td", has_text=re.compile(f"^{crm_id}$")))
    expect(deal).to_contain_text("bob@customer.test")
    deal.locator("input[name=amount]").fill("15000")
    deal.get_by_role("button", name="Won").click()
    expect(deal).to_contain_text("Won (142)")
    shot(amo, "crm-fake-amo")
    amo.close()

    with tenant_scope(crm.tenant):
        conversion = wait_until(
            lambda: Conversion.objects.filter(external_id=f"crm-amocrm-{crm_id}").first(),
            "the conversion",
        )
        assert conversion.amount == D("15000.00") and conversion.currency == "USD"
        reward = wait_until(
            lambda: Reward.objects.filter(conversion=conversion, partner=alice).first(),
            "the reward",
        )
        assert reward.amount == D("1500.00")
        lead.refresh_from_db()
        assert lead.status == Lead.Status.CONVERTED
    page.reload()
    expect(page.locator("#crm-log tbody tr", has_text="CRM event")).to_have_count(1)

    # Alice, in her own browser, sees the sale and what it earned her.
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 860})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        cabinet = watched(context, browser_log)
        sign_in(cabinet, base, "alice@example.test")
        cabinet.goto(f"{base}/earnings/")
        earned = cabinet.locator(f'#rewards tr[data-reward="{reward.pk}"]')
        expect(earned).to_contain_text("Pro plan")
        expect(earned).to_contain_text("1500.00 USD")
        shot(cabinet, "crm-partner-earnings")
        cabinet.goto(f"{base}/stats/")
        expect(cabinet.locator("#count-conversions")).to_have_text("1")
        sale = cabinet.locator("#conversions tbody tr", has_text=f"crm-amocrm-{crm_id}")
        expect(sale).to_contain_text("15000.00 USD")
        expect(cabinet.locator("#leads tbody tr")).to_contain_text("Converted")
    finally:
        context.close()


def test_an_open_conflict_is_settled_with_the_crm_value(
    page: Page, site: Site, fake: FakeAmo, program: Program, alice: PartnerProfile
):
    crm = connect_to(fake, program)
    with tenant_scope(crm.tenant):
        crm.fields.filter(prm_field="email").update(strategy=CrmFieldMap.Strategy.MANUAL)
    lead = register_lead(program, alice, "bob@customer.test")
    crm_id = crm_id_of(crm, lead)
    with tenant_scope(crm.tenant):
        assert connection_subscribe(crm, hook_url(site, crm)) == (True, "")
        with transaction.atomic():  # the e-mail changes here ...
            lead_update_contact(
                tenant=crm.tenant, lead=lead, changes={"email": "bob@prm.test"}, source="test"
            )
    fake.update_record(crm_id, email="bob@crm.test")  # ... and there
    with tenant_scope(crm.tenant):
        conflict = wait_until(
            lambda: CrmConflict.objects.filter(state=CrmConflict.State.OPEN).first(),
            "the conflict",
        )
    assert (conflict.prm_value, conflict.crm_value) == ("bob@prm.test", "bob@crm.test")

    base = site.tenant("acme")
    signed_in(page, base, "owner@acme.test")
    page.goto(f"{base}{CRM}/")
    expect(page.locator("#crm-health")).to_contain_text("1 open conflict")
    page.locator("nav.tabs").get_by_role("link", name="Conflicts").click()
    row = page.locator(f'#conflicts tr[data-conflict="{conflict.pk}"]')
    expect(row.locator("td").nth(1)).to_have_text("E-mail")
    expect(row).to_contain_text("bob@prm.test")
    expect(row).to_contain_text("bob@crm.test")
    shot(page, "crm-conflicts")
    row.get_by_role("button", name="Keep CRM value").click()
    expect(page.locator(".messages")).to_contain_text("Conflict settled.")
    expect(row).to_have_count(0)
    expect(page.locator("#conflicts")).to_contain_text("No conflicts.")
    page.locator(".filters").get_by_role("link", name="Settled").click()
    expect(row).to_contain_text("Kept the CRM value")
    with tenant_scope(crm.tenant):
        lead.refresh_from_db()
        assert lead.email == "bob@crm.test"


def test_a_dead_letter_is_retried(
    page: Page,
    site: Site,
    fake: FakeAmo,
    program: Program,
    alice: PartnerProfile,
    settings,
):
    settings.PRM_CRM_MAX_ATTEMPTS = 1  # dead after the first failed push
    crm = connect_to(fake, program)
    fake.inject("500", times=1000, path="/api/v4/")
    lead = register_lead(program, alice, "bob@customer.test")  # its push fails
    with tenant_scope(crm.tenant):
        dead = CrmOutbox.objects.get(connection=crm, lead=lead, state=CrmOutbox.State.DEAD)
    fake.inject("500", times=0)  # the CRM is back
    assert fake.records() == []

    base = site.tenant("acme")
    signed_in(page, base, "owner@acme.test")
    page.goto(f"{base}{CRM}/")
    page.locator("nav.tabs").get_by_role("link", name="Dead letters").click()
    row = page.locator(f'#dead-letters tr[data-row="{dead.pk}"]')
    expect(row).to_contain_text("Gave up after retries")
    expect(row).to_contain_text("500")
    shot(page, "crm-dead-letters")
    row.get_by_role("button", name="Retry").click()
    expect(page.locator(".messages")).to_contain_text("Queued again.")
    expect(row).to_have_count(0)
    expect(page.locator("#dead-letters")).to_contain_text("No dead letters.")
    [record] = fake.records()
    assert record["email"] == "bob@customer.test"
    assert crm_id_of(crm, lead) == record["id"]


def test_a_manager_has_no_crm_pages(page: Page, site: Site, tenant: Tenant):
    MembershipFactory(tenant=tenant, role=Role.MANAGER, user=UserFactory(email="mia@acme.test"))
    base = site.tenant("acme")
    sign_in(page, base, "mia@acme.test")
    page.goto(f"{base}/manage/")
    sidebar = page.locator(".sidebar")
    expect(sidebar.get_by_role("link", name="Leads")).to_be_visible()
    expect(sidebar.get_by_role("link", name="CRM integrations")).to_have_count(0)
    response = page.goto(f"{base}/manage/integrations/")
    assert response is not None and response.status == 403
    response = page.goto(f"{base}{CRM}/connect/")
    assert response is not None and response.status == 403
