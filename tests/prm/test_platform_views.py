"""The platform's landing page: creating a workspace, confirmed by an e-mailed link.

The form must reveal nothing about accounts: the same answer for an existing and a new
address, no password asked, and limits per visitor address and per e-mail.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict

import pytest
from allauth.account.models import EmailAddress
from django.core import mail, signing
from django.test import Client, override_settings

from prm.models import AuditEntry, Membership, Role, Tenant, User
from prm.ratelimits import TOO_MANY_ATTEMPTS
from prm.services.errors import SLUG_TAKEN, WORKSPACE_LINK_EXPIRED, WORKSPACE_LINK_INVALID
from prm.services.workspace_signup import (
    SALT,
    WorkspaceRequest,
    workspace_link_read,
    workspace_link_token,
)
from tests.factories import PASSWORD, TenantFactory, UserFactory

HOST = "localhost"
NEW_PASSWORD = "Tps-report-cover-42"
FORM = {"name": "Initech", "slug": "initech", "email": "founder@initech.test"}


@pytest.fixture
def platform(db: None) -> Client:
    return Client(HTTP_HOST=HOST)


@pytest.fixture
def send(
    platform: Client, run_jobs: Callable[[], None], django_capture_on_commit_callbacks
) -> Callable[..., object]:
    """POST the landing form and deliver the e-mail job with a real RQ worker."""

    def post(data: dict[str, str] | None = None, client: Client | None = None):  # type: ignore[no-untyped-def]
        with django_capture_on_commit_callbacks(execute=True):
            response = (client or platform).post("/", data or FORM)
        run_jobs()
        return response

    return post


def link_in(message: mail.EmailMessage) -> str:
    [url] = re.findall(r"http://localhost/workspace/confirm/\S+/", message.body)
    return url.removeprefix("http://localhost")


# The form


def test_the_form_asks_no_password(platform):
    html = platform.get("/").content.decode()
    assert 'name="email"' in html
    assert 'name="password' not in html


def test_it_answers_check_your_e_mail_and_sends_a_link_for_a_new_address(send, platform):
    response = send()
    assert response.status_code == 302
    assert response["Location"] == "/workspace/sent/"
    page = platform.get("/workspace/sent/")
    assert page.status_code == 200
    assert "Check your e-mail" in page.content.decode()
    assert "founder@initech.test" in page.content.decode()
    [message] = mail.outbox
    assert message.to == ["founder@initech.test"]
    assert message.subject == "Confirm creating the workspace Initech"
    assert "http://initech.localhost" in message.body
    assert link_in(message).startswith("/workspace/confirm/")
    # Nothing exists until the link is followed.
    assert not Tenant.objects.filter(slug="initech").exists()
    assert not User.objects.filter(email="founder@initech.test").exists()


def test_an_existing_address_gets_the_very_same_answer(send):
    UserFactory(email="known@initech.test")
    answers = []
    for email in ["founder@initech.test", "known@initech.test"]:
        client = Client(HTTP_HOST=HOST)
        response = send({**FORM, "email": email}, client=client)
        page = client.get(response["Location"])
        html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page.content.decode())
        answers.append(
            (response.status_code, response["Location"], page.status_code, html.replace(email, "@"))
        )
    assert answers[0] == answers[1]
    # Both addresses got the same e-mail, apart from the link's token.
    bodies = {re.sub(r"/workspace/confirm/\S+", "LINK", m.body) for m in mail.outbox}
    assert len(bodies) == 1
    assert [m.subject for m in mail.outbox] == ["Confirm creating the workspace Initech"] * 2


def test_a_password_in_the_post_is_ignored_for_an_existing_account(send):
    owner = UserFactory(email="known@initech.test")
    for guess in ["wrong-1", PASSWORD]:
        response = send({**FORM, "email": "known@initech.test", "password": guess})
        assert response.status_code == 302
    assert not Tenant.objects.filter(slug="initech").exists()
    assert not Membership.all_tenants_unscoped.filter(user=owner).exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"slug": "admin"}, "slug", "This address is reserved."),
        ({"slug": "Bad Slug!"}, "slug", None),
        ({"email": "not-an-address"}, "email", "Enter a valid email address."),
        ({"name": ""}, "name", "This field is required."),
    ],
)
def test_it_shows_form_errors_without_sending_anything(send, data, field, message):
    response = send({**FORM, **data})
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    if message:
        assert message in response.content.decode()
    assert mail.outbox == []


def test_a_taken_address_is_still_refused(send):
    TenantFactory(slug="initech")
    response = send()
    assert response.status_code == 200
    assert str(SLUG_TAKEN) in response.content.decode()
    assert mail.outbox == []


def test_the_check_your_e_mail_page_without_a_form_sends_back_to_the_start(platform):
    response = platform.get("/workspace/sent/")
    assert (response.status_code, response["Location"]) == (302, "/")


# Rate limits


@override_settings(ACCOUNT_RATE_LIMITS={"workspace_signup": "3/h/ip"})
def test_the_form_is_limited_per_visitor_address(send):
    for n in range(3):
        assert send({**FORM, "email": f"a{n}@initech.test"}).status_code == 302
    response = send({**FORM, "email": "a9@initech.test"})
    assert response.status_code == 429
    assert str(TOO_MANY_ATTEMPTS) in response.content.decode()
    assert len(mail.outbox) == 3
    # Invalid posts count as well: probing is limited, not only sending.
    assert send({**FORM, "slug": "admin"}).status_code == 429
    # Another address of a visitor (X-Forwarded-For is not trusted by default) is
    # the same visitor; another REMOTE_ADDR is not.
    other = Client(HTTP_HOST=HOST, REMOTE_ADDR="10.1.2.3")
    assert send({**FORM, "email": "b@initech.test"}, client=other).status_code == 302


@override_settings(
    ACCOUNT_RATE_LIMITS={"workspace_signup": "100/h/ip", "workspace_signup_email": "2/h/key"}
)
def test_the_form_is_limited_per_e_mail_address_from_any_visitor(send):
    for n in range(2):
        client = Client(HTTP_HOST=HOST, REMOTE_ADDR=f"10.0.0.{n + 1}")
        assert send({**FORM, "slug": f"s{n}"}, client=client).status_code == 302
    client = Client(HTTP_HOST=HOST, REMOTE_ADDR="10.0.0.9")
    response = send({**FORM, "email": "FOUNDER@initech.test", "slug": "s9"}, client=client)
    assert response.status_code == 429
    assert str(TOO_MANY_ATTEMPTS) in response.content.decode()
    assert len(mail.outbox) == 2
    # Existing or not, the limit is the same (it says nothing about the account).
    UserFactory(email="known@initech.test")
    for _ in range(2):
        assert send({**FORM, "email": "known@initech.test"}, client=client).status_code == 302
    assert send({**FORM, "email": "known@initech.test"}, client=client).status_code == 429


# Following the link: a new address


def test_a_new_address_chooses_a_password_and_gets_account_and_workspace(send, platform):
    send()
    link = link_in(mail.outbox[0])
    page = platform.get(link)
    assert page.status_code == 200
    html = page.content.decode()
    assert "founder@initech.test" in html
    assert 'name="password1"' in html
    response = platform.post(link, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/workspace/ready/")
    ready = platform.get("/workspace/ready/")
    assert ready.status_code == 200
    assert 'href="http://initech.localhost/manage/"' in ready.content.decode()

    tenant = Tenant.objects.get(slug="initech")
    user = User.objects.get(email="founder@initech.test")
    assert user.check_password(NEW_PASSWORD)
    assert (tenant.name, tenant.language) == ("Initech", "en")
    assert Membership.all_tenants_unscoped.get(tenant=tenant, user=user).role == Role.OWNER
    # The link reached the address: it is verified, the owner can sign in right away.
    assert EmailAddress.objects.get(user=user).verified
    assert AuditEntry.all_tenants_unscoped.get(tenant=tenant).action == "tenant.create"
    tenant_client = Client(HTTP_HOST="initech.localhost")
    signed_in = tenant_client.post(
        "/accounts/login/", {"login": user.email, "password": NEW_PASSWORD}
    )
    assert signed_in["Location"] == "/manage/"


def test_a_weak_or_mismatched_password_is_a_form_error(send, platform):
    send()
    link = link_in(mail.outbox[0])
    weak = platform.post(link, {"password1": "12345678", "password2": "12345678"})
    assert weak.status_code == 200
    assert "This password is too common." in weak.content.decode()
    other = platform.post(link, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"})
    assert "didn’t match" in other.content.decode()
    assert not User.objects.filter(email="founder@initech.test").exists()
    assert not Tenant.objects.filter(slug="initech").exists()


def test_a_used_link_cannot_create_twice(send, platform):
    send()
    link = link_in(mail.outbox[0])
    platform.post(link, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    again = Client(HTTP_HOST=HOST)
    for method in ("get", "post"):
        response = getattr(again, method)(link)
        assert response.status_code == 410
        assert "This address is no longer free" in response.content.decode()
    assert Tenant.objects.filter(slug="initech").count() == 1


def test_a_slug_taken_after_the_e_mail_is_a_clear_page(send, platform):
    send()
    TenantFactory(slug="initech")
    response = platform.post(
        link_in(mail.outbox[0]), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 410
    assert not User.objects.filter(email="founder@initech.test").exists()


class _SignedEarlier(signing.TimestampSigner):
    """Django's own signer, dated 25 hours ago."""

    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - 25 * 3600)


def test_a_link_expires(platform, settings):
    settings.PRM_WORKSPACE_LINK_HOURS = 24
    wanted = WorkspaceRequest(name="Initech", slug="initech", email="a@b.test", language="en")
    old = _SignedEarlier(salt=SALT).sign_object(asdict(wanted), compress=True)
    response = platform.get(f"/workspace/confirm/{old}/")
    assert response.status_code == 410
    assert str(WORKSPACE_LINK_EXPIRED) in response.content.decode()
    settings.PRM_WORKSPACE_LINK_HOURS = 26
    assert platform.get(f"/workspace/confirm/{old}/").status_code == 200


@pytest.mark.parametrize(
    "token",
    [
        "nope",
        "x" * 400,
        signing.dumps({"name": "X", "slug": "x", "email": "a@b.test"}, salt="other"),
        signing.dumps({"unexpected": 1}, salt="prm.workspace-signup", compress=True),
    ],
    # Fixed ids: the signed tokens carry a timestamp, and xdist workers must collect alike.
    ids=["nope", "long", "other-salt", "unexpected-payload"],
)
def test_a_forged_or_damaged_link_is_refused(platform, token):
    response = platform.get(f"/workspace/confirm/{token}/")
    assert response.status_code == 410
    assert str(WORKSPACE_LINK_INVALID) in response.content.decode()


def test_a_tampered_link_is_refused(send, platform):
    send()
    link = link_in(mail.outbox[0])
    token = link.split("/")[-2]
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert platform.get(f"/workspace/confirm/{tampered}/").status_code == 410


# Following the link: an existing account


def test_an_existing_account_signs_in_on_the_way_and_confirms(send, platform):
    owner = UserFactory(email="known@initech.test")
    send({**FORM, "email": "known@initech.test"})
    link = link_in(mail.outbox[0])
    response = platform.get(link)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/workspace/confirm/")
    assert not Tenant.objects.filter(slug="initech").exists()

    signed_in = platform.post(
        response["Location"], {"login": "known@initech.test", "password": PASSWORD}
    )
    assert signed_in["Location"] == link
    page = platform.get(link)
    assert page.status_code == 200
    assert "Create Initech" in page.content.decode()
    assert 'name="password' not in page.content.decode()
    assert not Tenant.objects.filter(slug="initech").exists()  # a GET changes nothing

    created = platform.post(link)
    assert (created.status_code, created["Location"]) == (302, "/workspace/ready/")
    tenant = Tenant.objects.get(slug="initech")
    assert Membership.all_tenants_unscoped.get(tenant=tenant, user=owner).role == Role.OWNER
    assert User.objects.filter(email="known@initech.test").count() == 1


def test_someone_signed_in_as_another_account_cannot_use_the_link(send, platform):
    UserFactory(email="known@initech.test")
    send({**FORM, "email": "known@initech.test"})
    link = link_in(mail.outbox[0])
    intruder = Client(HTTP_HOST=HOST)
    intruder.force_login(UserFactory(email="intruder@example.test"))
    for method in ("get", "post"):
        response = getattr(intruder, method)(link)
        assert response.status_code == 403
        assert "This link is for another account" in response.content.decode()
    assert not Tenant.objects.filter(slug="initech").exists()


def test_an_address_that_got_an_account_meanwhile_must_sign_in(send, platform):
    send()
    link = link_in(mail.outbox[0])
    assert 'name="password1"' in platform.get(link).content.decode()
    UserFactory(email="founder@initech.test")
    response = platform.post(link, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Tenant.objects.filter(slug="initech").exists()


def test_the_e_mail_link_uses_the_configured_public_host_not_the_request_host(send, settings):
    settings.PRM_SCHEME = "https"
    settings.PRM_PUBLIC_PORT = "8443"
    send(client=Client(HTTP_HOST="localhost:9999"))
    body = mail.outbox[0].body
    assert "https://localhost:8443/workspace/confirm/" in body
    assert "9999" not in body


def test_the_link_carries_the_visitors_language(send, platform):
    send(client=Client(HTTP_HOST=HOST, HTTP_ACCEPT_LANGUAGE="ru"))
    link = link_in(mail.outbox[0])
    platform.post(link, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert Tenant.objects.get(slug="initech").language == "ru"


def test_a_token_made_by_the_service_round_trips(db):
    wanted = WorkspaceRequest(name="A", slug="a1", email="a@b.test", language="en")
    assert workspace_link_read(workspace_link_token(wanted)) == wanted


@pytest.mark.parametrize(
    "data",
    [
        {"name": "nul\x00name"},
        {"email": "a\x00@initech.test"},
        {"slug": "a\x00b"},
        {"name": "x" * 10_000},
        {"email": "a" * 300 + "@initech.test"},
    ],
)
def test_hostile_input_is_a_form_error_not_a_500(send, data):
    response = send({**FORM, **data})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert mail.outbox == []


def test_the_answer_pages_answer_head_like_get(platform):
    assert platform.head("/workspace/sent/").status_code == 302
    assert platform.head("/workspace/ready/").status_code == 302
