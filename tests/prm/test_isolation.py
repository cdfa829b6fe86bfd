"""Who reaches which console URL: outsiders get 404, partners 403, anonymous visitors
the sign-in page; none of them changes anything. What each staff role reaches is
tests/prm/test_role_matrix.py's job (README's Roles table, URL by URL)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.urls import URLResolver

from partners.models import PartnerProfile
from prm.models import AuditEntry, Branding, Invitation, Membership, Role, Tenant, TenantDomain
from prm.tenancy import tenant_scope
from prm.urls_tenant import console_patterns
from tests.factories import InvitationFactory, MembershipFactory, PartnerFactory, UserFactory

GENERAL = {
    "name": "Hacked",
    "default_currency": "EUR",
    "language": "en",
    "timezone": "UTC",
}


@dataclass(frozen=True)
class Case:
    """One console URL, called the way its page calls it."""

    name: str
    method: str
    path: str  # {membership}, {invitation}, {partner}, {domain}: ids of acme's rows
    data: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, ids: dict[str, str]) -> str:
        return self.path.format(**ids)


CASES = [
    Case("dashboard", "GET", "/manage/"),
    Case("team", "GET", "/manage/team/"),
    Case("team_invite", "POST", "/manage/team/invite/", {"email": "x@x.test", "role": "analyst"}),
    Case("member_role", "POST", "/manage/team/{membership}/role/", {"role": "finance"}),
    Case("member_remove", "POST", "/manage/team/{membership}/remove/"),
    Case("invitation_revoke", "POST", "/manage/team/invitations/{invitation}/revoke/"),
    Case("partners", "GET", "/manage/partners/"),
    Case("partner_status", "POST", "/manage/partners/{partner}/status/", {"status": "blocked"}),
    Case("partner_data", "GET", "/manage/partners/{partner}/data.json"),
    Case("partner_erase", "GET", "/manage/partners/{partner}/erase/"),
    Case(
        "partner_erase",
        "POST",
        "/manage/partners/{partner}/erase/",
        {"email": "partner@acme.test", "reason": "asked"},
    ),
    Case("settings", "GET", "/manage/settings/"),
    Case("settings", "POST", "/manage/settings/", GENERAL),
    Case("settings_security", "POST", "/manage/settings/security/", {"require_staff_2fa": "on"}),
    Case("settings_branding", "GET", "/manage/settings/branding/"),
    Case(
        "settings_branding",
        "POST",
        "/manage/settings/branding/",
        {"primary_color": "#000000", "accent_color": "#000000", "font": "inter"},
    ),
    Case("domain_create", "POST", "/manage/settings/domains/", {"domain": "evil.example.com"}),
    Case("domain_delete", "POST", "/manage/settings/domains/{domain}/remove/"),
    Case("audit", "GET", "/manage/audit/"),
    Case("my_notifications", "GET", "/manage/notifications/"),
    Case("my_notifications", "POST", "/manage/notifications/", {"language": "ru"}),
    Case("notification_outbox", "GET", "/manage/notifications/outbox/"),
]
WITH_IDS = [case for case in CASES if "{" in case.path]


@pytest.fixture
def acme_rows(acme: Tenant, partner) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """One row of each kind the console addresses by id, all in acme."""
    target = MembershipFactory(
        tenant=acme, role=Role.MANAGER, user=UserFactory(email="target@acme.test")
    )
    invitation = InvitationFactory(tenant=acme, email="invitee@example.test")
    domain = TenantDomain.all_tenants_unscoped.create(
        tenant=acme, domain="partners.acme.com", is_verified=True
    )
    with tenant_scope(acme):
        profile = PartnerProfile.objects.get(user=partner)
    return {
        "membership": str(target.pk),
        "invitation": str(invitation.pk),
        "domain": str(domain.pk),
        "partner": str(profile.pk),
    }


def state(tenant: Tenant) -> dict[str, Any]:
    """Everything a console URL could change in ``tenant``."""
    tenant = Tenant.objects.get(pk=tenant.pk)
    with tenant_scope(tenant):
        return {
            "tenant": (
                tenant.name,
                tenant.default_currency,
                tenant.require_staff_2fa,
                tenant.partner_signup_open,
            ),
            "members": set(Membership.objects.values_list("id", "role")),
            "invitations": set(Invitation.objects.values_list("id", "email", "status")),
            "domains": set(TenantDomain.objects.values_list("id", "domain")),
            "partners": set(
                PartnerProfile.objects.values_list("id", "status", "erased_at", "user__email")
            ),
            "audit": AuditEntry.objects.count(),
            "branding": set(Branding.objects.values_list("id", "version", "primary_color")),
        }


def call(client, case: Case, ids: dict[str, str]):  # type: ignore[no-untyped-def]
    url = case.url(ids)
    return client.get(url) if case.method == "GET" else client.post(url, case.data)


def console_routes(patterns: list[Any], prefix: str) -> list[str]:
    """Every console URL with its ids filled in by values that match nobody's rows."""
    routes = []
    for pattern in patterns:
        route = prefix + re.sub(
            r"<(?:(\w+):)?\w+>", lambda m: SAMPLE_VALUES[m.group(1) or "str"], str(pattern.pattern)
        )
        if isinstance(pattern, URLResolver):
            routes += console_routes(pattern.url_patterns, route)
        else:
            routes.append(route)
    return routes


# Fixed, not random: pytest-xdist needs the same test ids on every worker.
NOBODYS_UUID = "7e57c0de-0000-4000-8000-000000000000"
SAMPLE_VALUES = {"uuid": NOBODYS_UUID, "int": "1", "slug": "x", "str": "x", "path": "x"}
EVERY_CONSOLE_URL = console_routes(console_patterns[0], "/manage/")


def test_the_cases_cover_every_url_of_the_foundation():
    names = {pattern.name for pattern in console_patterns[0]}
    assert {case.name for case in CASES} <= names
    assert len(EVERY_CONSOLE_URL) == len(names)


# The sweep below covers every console URL, also those added after the foundation:
# whatever its method, an outsider gets 404, a partner 403 and an anonymous visitor the
# sign-in page (or 405 for the wrong method, decided before anyone is looked at).


@pytest.mark.parametrize("url", EVERY_CONSOLE_URL)
def test_every_console_url_is_a_404_for_an_outsider(client_for, acme, outsider, url):
    client = client_for(outsider)
    statuses = {client.get(url).status_code, client.post(url).status_code}
    assert statuses in ({404}, {404, 405})


@pytest.mark.parametrize("url", EVERY_CONSOLE_URL)
def test_every_console_url_is_a_403_for_a_partner(client_for, acme, partner, url):
    client = client_for(partner)
    statuses = {client.get(url).status_code, client.post(url).status_code}
    assert statuses in ({403}, {403, 405})


@pytest.mark.parametrize("url", EVERY_CONSOLE_URL)
def test_every_console_url_sends_an_anonymous_visitor_to_sign_in(client_for, acme, url):
    client = client_for(None)
    responses = [r for r in (client.get(url), client.post(url)) if r.status_code != 405]
    assert responses
    for response in responses:
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={url}"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_an_outsider_signed_in_on_acme_gets_404_and_changes_nothing(
    client_for, acme, acme_rows, outsider, case
):
    before = state(acme)
    response = call(client_for(outsider, "acme.localhost"), case, acme_rows)
    assert response.status_code == 404
    assert state(acme) == before


@pytest.mark.parametrize("case", WITH_IDS, ids=str)
def test_an_outsider_on_their_own_host_cannot_reach_acme_rows_by_id(
    client_for, acme, acme_rows, globex, outsider, case
):
    before_acme, before_globex = state(acme), state(globex)
    response = call(client_for(outsider, "globex.localhost"), case, acme_rows)
    assert response.status_code == 404
    assert state(acme) == before_acme
    assert state(globex) == before_globex


def test_an_outsider_cannot_use_an_acme_invitation_on_their_host(
    client_for, acme, globex, outsider
):
    invitation = InvitationFactory(tenant=acme, email="owner@globex.test")
    client = client_for(outsider, "globex.localhost")
    assert client.get(f"/invite/{invitation.token}/").status_code == 404
    assert client.post(f"/invite/{invitation.token}/").status_code == 404
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING


def test_acme_staff_have_no_console_on_another_tenants_host(client_for, acme, owner, globex):
    assert client_for(owner, "globex.localhost").get("/manage/").status_code == 404


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_partner_of_acme_gets_403_on_the_console(client_for, acme, acme_rows, partner, case):
    before = state(acme)
    response = call(client_for(partner), case, acme_rows)
    assert response.status_code == 403
    assert state(acme) == before


@pytest.mark.parametrize("case", CASES, ids=str)
def test_an_anonymous_visitor_is_sent_to_sign_in(client_for, acme, acme_rows, case):
    before = state(acme)
    url = case.url(acme_rows)
    response = call(client_for(None), case, acme_rows)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"
    assert state(acme) == before


@pytest.mark.parametrize("case", WITH_IDS, ids=str)
@pytest.mark.parametrize(
    "bad_id",
    [
        "not-a-uuid",
        "123",
        "00000000-0000-0000-0000-00000000000",
        "00000000-0000-0000-0000-0000000000000",
        "%00",
        "%27%20OR%201%3D1--",
        "00000000-0000-0000-0000-000000000000",  # well-formed, but nobody's
    ],
)
def test_a_malformed_or_unknown_id_is_a_404_never_a_500(
    client_for, acme, acme_rows, owner, case, bad_id
):
    ids = dict.fromkeys(acme_rows, bad_id)
    before = state(acme)
    response = call(client_for(owner), case, ids)
    assert response.status_code == 404
    assert state(acme) == before


def test_an_unknown_host_is_a_404_for_everyone(client_for, acme, owner):
    response = client_for(owner, "nobody.localhost").get("/manage/")
    assert response.status_code == 404
    assert "There is no workspace here" in response.content.decode()


def test_the_same_user_is_staff_in_one_tenant_and_partner_in_another(
    client_for, acme, globex, outsider
):
    PartnerFactory(tenant=acme, user=outsider)
    assert client_for(outsider, "acme.localhost").get("/manage/").status_code == 403
    assert client_for(outsider, "acme.localhost").get("/").status_code == 200
    assert client_for(outsider, "globex.localhost").get("/manage/").status_code == 200


@pytest.mark.parametrize("case", [case for case in CASES if case.method == "POST"], ids=str)
def test_a_console_post_without_a_csrf_token_is_refused(client_for, acme, acme_rows, owner, case):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    before = state(acme)
    response = client.post(case.url(acme_rows), case.data, HTTP_HOST="acme.localhost")
    assert response.status_code == 403
    assert state(acme) == before
