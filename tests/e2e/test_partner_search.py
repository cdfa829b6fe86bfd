"""Partner fields in Chromium: type part of a name, pick the partner from the list, and
the filter or form receives their id (under the CSP: the script is static/js/app.js)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from prm.models import Role, Tenant
from prm.tenancy import tenant_scope
from programs.models import Enrollment, Program
from tests.e2e.helpers import Site
from tests.e2e.test_console_money import sign_in
from tests.factories import MembershipFactory, PartnerFactory, TenantFactory, UserFactory
from tests.programs.factories import EnrollmentFactory, LeadFactory, ProgramFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tenant(site: Site) -> Tenant:
    acme = TenantFactory(name="Acme", slug="acme")
    MembershipFactory(tenant=acme, role=Role.OWNER, user=UserFactory(email="owner@acme.test"))
    return acme


@pytest.fixture
def program(tenant: Tenant) -> Program:
    program = ProgramFactory(tenant=tenant, name="Pro")
    for i in range(12):
        EnrollmentFactory(program=program, partner__display_name=f"Partner {i:02d}")
    zelda = PartnerFactory(
        tenant=tenant, display_name="Zelda Target", user=UserFactory(email="zelda@p.test")
    )
    EnrollmentFactory(program=program, partner=zelda)
    for _ in range(3):
        LeadFactory(program=program, partner=zelda)
    LeadFactory(program=program)  # someone else's
    return program


def pick(page: Page, box: str, typed: str, label: str) -> None:
    page.fill(box, typed)
    option = page.locator(f"{box} ~ .autocomplete-list [role=option]", has_text=label)
    expect(option).to_be_visible()
    option.click()
    expect(page.locator(box)).to_have_value(re.compile(re.escape(label)))


def test_the_lead_filter_finds_a_partner_by_typing(page: Page, site: Site, program: Program):
    base = site.tenant("acme")
    sign_in(page, base, "owner@acme.test")
    page.goto(f"{base}/manage/leads/")
    pick(page, "#id_partner", "zel", "Zelda Target <zelda@p.test>")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#leads tbody tr[data-lead]")).to_have_count(3)
    assert "partner=" in page.url
    # The box keeps the choice on the filtered page.
    expect(page.locator("#id_partner")).to_have_value("Zelda Target <zelda@p.test>")


def test_enrolling_a_partner_picked_from_the_list(page: Page, site: Site, tenant: Tenant):
    ProgramFactory(tenant=tenant, name="Fresh")
    newcomer = PartnerFactory(
        tenant=tenant, display_name="Nora Newcomer", user=UserFactory(email="nora@p.test")
    )
    with tenant_scope(tenant):
        fresh = Program.objects.get(name="Fresh")
    base = site.tenant("acme")
    sign_in(page, base, "owner@acme.test")
    page.goto(f"{base}/manage/programs/{fresh.pk}/")
    pick(page, "#id_enroll_partner", "nora", "Nora Newcomer")
    page.get_by_role("button", name="Enroll").click()
    expect(page.locator("#enrollments")).to_contain_text("Nora Newcomer")
    with tenant_scope(tenant):
        assert Enrollment.objects.filter(program=fresh, partner=newcomer).exists()
