"""One source for public URLs: every link the platform renders or sends follows the
configured scheme, host and port (PRM_PUBLIC_PORT, which `PORT=... make run` sets), and
none takes the request's Host header, even on a tenant's verified custom domain."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.test import Client

from integrations.services.connections import connection_save
from partners.models import PartnerProfile
from prm.models import Tenant, TenantDomain, User
from prm.tenancy import tenant_scope
from programs.models import Enrollment, Program
from tests.rewards.helpers import make_partner, make_program

EVIL = "evil.example"
HOST = f"{EVIL}:1234"  # a verified custom domain of acme, with a port of its own
PUBLIC = "http://acme.localhost:8101"
URL = re.compile(r"https?://[^\s\"'<>&]+")


@pytest.fixture
def world(settings, acme: Tenant, owner: User) -> dict[str, object]:
    settings.PRM_PUBLIC_PORT = "8101"
    settings.PRM_SCHEME = "http"
    with tenant_scope(acme):
        TenantDomain.objects.create(tenant=acme, domain=EVIL, is_verified=True)
        program = make_program(acme, landing_urls="https://shop.example.com/")
        partner = make_partner(acme, program, "ALICE")
        connection_save(
            tenant=acme,
            provider="amocrm",
            auth_kind="token",
            base_url="https://acme.amocrm.ru",
            credentials={"access_token": "t"},
        )
        connection_save(
            tenant=acme,
            provider="bitrix24",
            auth_kind="oauth",
            base_url="https://acme.bitrix24.ru",
            credentials={"client_id": "app.1", "client_secret": "s"},
        )
    return {"program": program, "partner": partner}


def _client(user: User | None) -> Client:
    client = Client(HTTP_HOST=HOST)
    if user is not None:
        client.force_login(user)
    return client


def _links(text: str) -> list[str]:
    return URL.findall(text)


def _check(where: str, text: str, must_have: str) -> None:
    assert EVIL not in text, f"{where} names the request's host"
    assert ":1234" not in text, f"{where} names the request's port"
    assert must_have in text, f"{where} lacks {must_have}"
    ours = [u for u in _links(text) if "localhost" in u]
    assert ours and all(u.startswith(PUBLIC) for u in ours), (where, ours)


def test_every_link_follows_the_configured_port_never_the_request_host(
    world, acme, owner, run_jobs, django_capture_on_commit_callbacks
) -> None:
    program: Program = world["program"]  # type: ignore[assignment]
    profile: PartnerProfile = world["partner"]  # type: ignore[assignment]
    with tenant_scope(acme):
        enrollment = Enrollment.objects.get(partner=profile)
    staff = _client(owner)

    # The snippet tag in the console, and the endpoint the snippet itself posts to.
    page = staff.get(f"/manage/programs/{program.pk}/").content.decode()
    _check("snippet tag", page, f'src="{PUBLIC}/t/{program.publishable_key}.js"')
    script = _client(None).get(f"/t/{program.publishable_key}.js").content.decode()
    _check("snippet config", script, f'"endpoint":"{PUBLIC}/t"')

    # The partner's referral (platform) link and recruit link.
    cabinet = _client(profile.user)
    page = cabinet.get(f"/programs/{enrollment.pk}/").content.decode()
    _check("referral link", page, f"{PUBLIC}/r/ALICE")
    page = cabinet.get("/earnings/").content.decode()
    _check("recruit link", page, f"{PUBLIC}/recruit/{profile.recruit_code}/")

    # The CRM event URL on the status page.
    page = staff.get("/manage/integrations/amocrm/").content.decode()
    _check("CRM event URL", page, f"{PUBLIC}/hooks/crm/")

    # The OAuth redirect URI sent to the CRM (registered in its app beforehand).
    start = staff.get("/manage/integrations/bitrix24/oauth/start/")
    assert start.status_code == 302
    (redirect_uri,) = parse_qs(urlsplit(start["Location"]).query)["redirect_uri"]
    _check("OAuth redirect URI", redirect_uri, f"{PUBLIC}/manage/integrations/bitrix24/oauth/")

    # The invitation e-mail.
    with django_capture_on_commit_callbacks(execute=True):
        staff.post("/manage/team/invite/", {"email": "new@example.test", "role": "manager"})
    run_jobs()
    (invitation,) = [m for m in mail.outbox if m.to == ["new@example.test"]]
    _check("invitation e-mail", invitation.body, f"{PUBLIC}/invite/")

    # The verification e-mail of a partner signing up on the custom domain.
    mail.outbox.clear()
    acme.partner_signup_open = True
    acme.save(update_fields=["partner_signup_open"])
    signup = _client(None).post(
        "/accounts/signup/",
        {
            "email": "newbie@example.test",
            "password1": "x-Long-pass-42",
            "password2": "x-Long-pass-42",
        },
    )
    assert signup.status_code == 302
    (verify,) = mail.outbox
    _check("verification e-mail", verify.body, f"{PUBLIC}/accounts/confirm-email/")

    # The password-reset e-mail, asked for on the custom domain.
    mail.outbox.clear()
    response = _client(None).post("/accounts/password/reset/", {"email": profile.user.email})
    assert response.status_code == 302
    (reset,) = mail.outbox
    _check("password-reset e-mail", reset.body, f"{PUBLIC}/accounts/password/reset/key/")


def test_the_platform_links_follow_the_port_too(settings, owner) -> None:
    settings.PRM_PUBLIC_PORT = "8101"
    response = Client(HTTP_HOST="localhost:1234").post(
        "/accounts/password/reset/", {"email": owner.email}
    )
    assert response.status_code == 302
    (reset,) = mail.outbox
    _check_platform = [u for u in _links(reset.body) if "localhost" in u]
    assert _check_platform and all(
        u.startswith("http://localhost:8101/accounts/password/reset/key/") for u in _check_platform
    )
    assert ":1234" not in reset.body


def test_an_unknown_account_e_mail_names_our_host(world) -> None:
    _client(None).post("/accounts/password/reset/", {"email": "nobody@example.test"})
    for message in mail.outbox:
        assert EVIL not in message.body
        assert all(u.startswith(PUBLIC) for u in _links(message.body) if "localhost" in u)
