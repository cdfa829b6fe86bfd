"""The workspace switcher: a person's workspaces (staff or partner), links to each
host, nobody else's; and the platform home's sign-in link."""

from __future__ import annotations

import re

import pytest

from tests.factories import MembershipFactory, PartnerFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db

SWITCHER = re.compile(r'<details class="switcher".*?</details>', re.DOTALL)


def switcher(html: str) -> str:
    match = SWITCHER.search(html)
    return match.group(0) if match else ""


def test_it_lists_the_staff_and_partner_workspaces_of_the_person_only(
    client_for, acme, globex, outsider
):
    PartnerFactory(tenant=acme, user=outsider)  # globex's owner is also acme's partner
    TenantFactory(name="Initech", slug="initech")  # not theirs
    menu = switcher(client_for(outsider, "acme.localhost").get("/").content.decode())
    assert 'href="http://acme.localhost/"' in menu and 'href="http://globex.localhost/"' in menu
    assert "Initech" not in menu
    assert re.search(r'href="http://acme.localhost/" aria-current="page"', menu)


def test_someone_in_one_workspace_sees_no_switcher(client_for, acme, owner):
    assert switcher(client_for(owner).get("/manage/").content.decode()) == ""


def test_a_workspace_joined_after_sign_in_appears_in_the_menu(client_for, acme, globex, outsider):
    client = client_for(outsider, "acme.localhost")
    PartnerFactory(tenant=acme, user=outsider)  # joined after the session began
    menu = switcher(client.get("/").content.decode())
    assert "Acme" in menu and "Globex" in menu


def test_an_inactive_workspace_is_not_listed(client_for, acme, globex, outsider):
    MembershipFactory(tenant=acme, user=outsider)
    dead = TenantFactory(name="Gone", slug="gone", is_active=False)
    MembershipFactory(tenant=dead, user=outsider)
    menu = switcher(client_for(outsider, "globex.localhost").get("/manage/").content.decode())
    assert "Acme" in menu and "Gone" not in menu


def test_the_platform_home_has_a_sign_in_link_and_then_lists_workspaces(client_for, acme, globex):
    html = client_for(None, "localhost").get("/").content.decode()
    assert 'href="/accounts/login/"' in html
    person = UserFactory(email="both@example.test")
    MembershipFactory(tenant=acme, user=person)
    PartnerFactory(tenant=globex, user=person)
    menu = switcher(client_for(person, "localhost").get("/").content.decode())
    assert "http://acme.localhost/" in menu and "http://globex.localhost/" in menu


def test_the_platform_home_lists_a_single_workspace_as_a_link(client_for, acme, owner):
    html = client_for(owner, "localhost").get("/").content.decode()
    card = html[html.index('id="your-workspaces"') :]
    assert 'href="http://acme.localhost/"' in card
