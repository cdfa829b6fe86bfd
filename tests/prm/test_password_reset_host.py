"""Password-reset links name the platform's configured host (the tenant's slug host),
never the request's Host header, and their keys work only on that host."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client

from prm.models import Tenant, TenantDomain, User
from prm.tenancy import tenant_scope

PASSWORD = "a-new-long-passphrase-42"


@pytest.fixture
def custom_domain(acme: Tenant) -> str:
    with tenant_scope(acme):
        TenantDomain.objects.create(tenant=acme, domain="partners.acme.example", is_verified=True)
    return "partners.acme.example"


def _reset_link(host: str, email: str) -> str:
    mail.outbox.clear()
    response = Client(HTTP_HOST=host).post("/accounts/password/reset/", {"email": email})
    assert response.status_code == 302
    (message,) = mail.outbox
    (link,) = re.findall(r"https?://\S+/accounts/password/reset/key/\S+", message.body)
    return link


def _use(link: str, host: str) -> bool:
    """Follow a reset link on ``host`` and set a new password; True when it worked."""
    client = Client(HTTP_HOST=host)
    response = client.get(urlsplit(link).path)
    if response.status_code != 302:  # allauth renders "bad token" with a 200
        assert response.status_code == 200
        assert response.context["token_fail"]
        return False
    page = response["Location"]
    response = client.post(page, {"password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return True


def test_a_reset_asked_on_a_custom_domain_links_to_the_slug_host(
    acme, partner: User, custom_domain
) -> None:
    link = _reset_link(f"{custom_domain}:9999", partner.email)
    assert link.startswith("http://acme.localhost/accounts/password/reset/key/")


def test_the_key_works_on_its_host(acme, partner: User) -> None:
    link = _reset_link("acme.localhost", partner.email)
    assert _use(link, "acme.localhost")
    partner.refresh_from_db()
    assert partner.check_password(PASSWORD)


@pytest.mark.parametrize("other", ["globex.localhost", "localhost", "custom"])
def test_the_key_is_refused_on_any_other_host(
    acme, globex, partner: User, custom_domain, other: str
) -> None:
    host = custom_domain if other == "custom" else other
    link = _reset_link("acme.localhost", partner.email)
    assert not _use(link, host)
    partner.refresh_from_db()
    assert not partner.check_password(PASSWORD)
    assert _use(link, "acme.localhost")  # still good where it belongs


def test_a_platform_key_does_not_work_on_a_tenant(acme, owner: User) -> None:
    link = _reset_link("localhost", owner.email)
    assert link.startswith("http://localhost/accounts/password/reset/key/")
    assert not _use(link, "acme.localhost")
    assert _use(link, "localhost")
