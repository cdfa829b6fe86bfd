"""The recruitment widget in Chromium, on a client site of its own host under a strict
CSP: the inline form signs a visitor up as a partner; the popup opens in Russian and
closes with Escape."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from partners.models import PartnerInvitation, PartnerProfile
from prm.models import Tenant
from prm.tenancy import tenant_scope
from programs.models import Enrollment, Program
from tests.e2e.client_site import client_site
from tests.e2e.helpers import Site
from tests.factories import TenantFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tenant(site: Site) -> Tenant:
    return TenantFactory(name="Acme", slug="acme")


@pytest.fixture
def program(tenant: Tenant) -> Program:
    return Program.all_tenants_unscoped.create(
        tenant=tenant,
        name="Pro",
        product="Acme Pro",
        currency="USD",
        status=Program.Status.ACTIVE,
        landing_urls="http://placeholder.invalid/",
    )


def test_a_visitor_becomes_a_partner_from_the_clients_own_site(
    page: Page, site: Site, tenant: Tenant, program: Program
) -> None:
    origin = site.tenant("acme")
    with client_site(f"{origin}/t/{program.publishable_key}.js", origin) as url:
        # Only the program's own sites may sign partners up: this one is.
        Program.all_tenants_unscoped.filter(pk=program.pk).update(landing_urls=url + "/")
        page.goto(url + "/partners")
        inline = page.locator("#recruit")
        expect(inline.locator("h2")).to_have_text("Become our partner")
        expect(inline.locator(".program")).to_contain_text("Pro")
        inline.locator("input[name=name]").fill("Newt Scamander")
        inline.locator("input[name=email]").fill("newt@example.com")
        inline.get_by_role("button", name="Join the program").click()
        expect(inline.locator(".err[data-for=consent]")).not_to_be_empty()
        inline.locator("input[name=consent]").check()
        inline.get_by_role("button", name="Join the program").click()
        expect(inline.locator(".thanks")).to_contain_text("Check your inbox")

        page.locator("#become").click()
        dialog = page.get_by_role("dialog")
        expect(dialog.locator("h2")).to_have_text("Станьте нашим партнёром")
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)

    with tenant_scope(tenant):
        partner = PartnerProfile.objects.get(user__email="newt@example.com")
        assert partner.display_name == "Newt Scamander"
        assert Enrollment.objects.filter(partner=partner, program=program).exists()
        assert PartnerInvitation.objects.filter(partner=partner).exists()
