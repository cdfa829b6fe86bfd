"""Branding in Chromium: the owner sets a colour, a font and a logo with the live
preview following, saves, and the public join page and the cabinet show them (computed
styles, a loaded logo), with no CSP violation anywhere."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from prm.models import Role, Tenant
from tests.e2e.helpers import Site, shot
from tests.factories import PASSWORD, MembershipFactory, PartnerFactory, TenantFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OWNER = "owner@acme.test"


@pytest.fixture
def tenant(site: Site) -> Tenant:
    tenant = TenantFactory(name="Acme", slug="acme")
    MembershipFactory(tenant=tenant, role=Role.OWNER, user=UserFactory(email=OWNER))
    PartnerFactory(tenant=tenant, user=UserFactory(email="alice@example.test"))
    return tenant


def sign_in(page: Page, base: str, email: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name=re.compile(r"^sign in$", re.I)).click()
    expect(page.locator(".topbar .who")).to_have_text(email)


def test_the_owner_brands_the_cabinet_with_a_live_preview(page: Page, site: Site, tenant, tmp_path):
    base = site.tenant("acme")
    logo = tmp_path / "logo.png"
    out = io.BytesIO()
    Image.new("RGB", (120, 40), "navy").save(out, format="PNG")
    logo.write_bytes(out.getvalue())

    sign_in(page, base, OWNER)
    page.goto(f"{base}/manage/settings/")
    page.get_by_role("link", name="Edit branding").click()
    form = page.locator("#branding-form")
    form.locator("input[name=primary_color]").fill("#b91c1c")
    preview = page.locator("#branding-preview")
    expect(preview).to_have_css("--p-primary", "#b91c1c")
    # A light colour shows the contrast warning as it is typed.
    form.locator("input[name=accent_color]").fill("#fde68a")
    expect(page.locator('.js-contrast[data-for="id_accent_color"]')).to_be_visible()
    form.locator("input[name=accent_color]").fill("#0f766e")
    expect(page.locator('.js-contrast[data-for="id_accent_color"]')).to_be_hidden()
    form.locator("select[name=font]").select_option("pt-sans")
    expect(preview).to_have_css("font-family", re.compile("PT Sans"))
    form.locator("input[name=cabinet_title]").fill("Acme Partners")
    expect(page.locator("#preview-title")).to_have_text("Acme Partners")
    form.locator("input[name=logo]").set_input_files(str(logo))
    expect(page.locator("#preview-logo")).to_be_visible()
    shot(page, "branding-preview")
    form.get_by_role("button", name="Save branding").click()
    expect(page.locator(".messages")).to_contain_text("Branding saved.")

    # The public join page, signed out: logo, title, colour and font.
    page.context.clear_cookies()
    page.goto(f"{base}/")
    expect(page.locator(".brand-name")).to_have_text("Acme Partners")
    button = page.locator(".hero .button.primary")
    expect(button).to_have_css("background-color", "rgb(185, 28, 28)")
    expect(page.locator("body")).to_have_css("font-family", re.compile('^"PT Sans"'))
    loaded = page.evaluate(
        "() => { const i = document.querySelector('.brand-logo'); return i && i.naturalWidth; }"
    )
    assert loaded == 120
    shot(page, "branded-welcome")
    sign_in(page, base, "alice@example.test")
    expect(page.locator(".brand-name")).to_have_text("Acme Partners")
    expect(page.locator("body")).to_have_css("font-family", re.compile('^"PT Sans"'))
