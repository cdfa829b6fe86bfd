"""Materials in Chromium: a manager publishes a banner to a program; a partner of that
program opens Materials and copies the banner's HTML, which carries their own tracking
link (with the material's marker) and the banner's image; the copy is counted."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from partners.materials.models import Material
from prm.models import Role, Tenant
from prm.tenancy import tenant_scope
from programs.models import Enrollment, Program
from tests.e2e.helpers import Site, shot
from tests.e2e.test_branding import sign_in
from tests.factories import MembershipFactory, PartnerFactory, TenantFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tenant(site: Site) -> Tenant:
    tenant = TenantFactory(name="Acme", slug="acme")
    MembershipFactory(tenant=tenant, role=Role.MANAGER, user=UserFactory(email="m@acme.test"))
    alice = PartnerFactory(tenant=tenant, user=UserFactory(email="alice@example.test"))
    program = Program.all_tenants_unscoped.create(
        tenant=tenant,
        name="Pro",
        currency="USD",
        status=Program.Status.ACTIVE,
        landing_urls="https://shop.example.com/",
    )
    Enrollment.all_tenants_unscoped.create(
        tenant=tenant, program=program, partner=alice, code="ALICE"
    )
    return tenant


def test_staff_publish_a_banner_and_a_partner_copies_it_with_their_link(
    page: Page, site: Site, tenant: Tenant, tmp_path
) -> None:
    base = site.tenant("acme")
    banner = tmp_path / "banner.png"
    out = io.BytesIO()
    Image.new("RGB", (300, 50), "teal").save(out, format="PNG")
    banner.write_bytes(out.getvalue())

    sign_in(page, base, "m@acme.test")
    page.goto(f"{base}/manage/")
    page.locator(".sidebar").get_by_role("link", name="Materials").click()
    page.get_by_role("link", name="New material").click()
    form = page.locator("#material-form")
    form.locator("select[name=kind]").select_option("banner")
    form.locator("input[name=title]").fill("Summer banner")
    form.locator("select[name=audience]").select_option("program")
    form.locator("select[name=program]").select_option(label="Pro")
    form.locator("input[name=upload]").set_input_files(str(banner))
    form.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Material Summer banner saved.")
    with tenant_scope(tenant):
        material = Material.objects.get()

    sign_in(page, base, "alice@example.test")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page.get_by_role("link", name="Materials").first.click()
    card = page.locator(f"#material-{material.pk}")
    expect(card.locator("h3")).to_contain_text("Summer banner")
    # The thumbnail loads after the page does (slower under a loaded suite): wait for it.
    card.locator("img").evaluate(
        "i => i.complete ? null : new Promise(ok => { i.onload = ok; i.onerror = ok; })"
    )
    assert card.locator("img").evaluate("i => i.naturalWidth") == 300
    card.get_by_role("button", name="Copy HTML").click()
    expect(card.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert re.fullmatch(
        rf'<a href="{re.escape(base)}/r/ALICE\?m={material.pk}"><img src="{re.escape(base)}'
        rf'/m/{material.pk}/image" alt="Summer banner" width="300" height="50"></a>',
        copied,
    ), copied
    shot(page, "materials-cabinet")
    page.wait_for_function(
        "() => performance.getEntriesByType('resource')"
        ".some(e => e.name.includes('/copied/') && e.responseEnd > 0)"
    )
    with tenant_scope(tenant):
        material.refresh_from_db()
    assert (material.views, material.copies) == (1, 1)
