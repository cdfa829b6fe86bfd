"""The recruitment widget's endpoint (/t/<key>/recruit): offer and texts for the widget,
sign-ups from the program's own sites only, bots and floods refused, nothing written for
an address that already has an account (and nothing said about it either)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache

from partners.models import PartnerInvitation, PartnerProfile
from prm.models import Job
from prm.tenancy import tenant_scope
from programs.models import Enrollment, Program
from tests.factories import UserFactory
from tests.programs.factories import ProgramFactory

SITE = "https://shop.example.com"
HOST = "acme.localhost"


@pytest.fixture
def program(acme):
    return ProgramFactory(tenant=acme, name="Pro", join_policy=Program.JoinPolicy.APPROVAL)


def _url(program: Program) -> str:
    return f"/t/{program.publishable_key}/recruit"


def _post(client, program, body, origin=SITE, **extra):
    return client.post(
        _url(program),
        json.dumps(body),
        content_type="text/plain",
        HTTP_HOST=HOST,
        HTTP_ORIGIN=origin,
        **extra,
    )


NEWT = {"email": "Newt@Example.com", "name": "Newt", "consent": True}


def test_the_widget_gets_the_offer_branding_and_its_texts_in_the_visitors_language(client, program):
    en = client.get(_url(program), HTTP_HOST=HOST, HTTP_ORIGIN=SITE)
    assert en.status_code == 200
    assert en["Access-Control-Allow-Origin"] == SITE
    body = en.json()
    assert body["program"] == "Pro" and body["after_approval"] is True
    assert body["brand"]["primary"].startswith("#")
    assert body["texts"]["submit"] == "Join the program"
    ru = client.get(_url(program) + "?lang=ru-RU", HTTP_HOST=HOST, HTTP_ORIGIN=SITE)
    assert ru.json()["texts"]["submit"] == "Вступить в программу"
    other = client.get(_url(program), HTTP_HOST=HOST, HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in other


def test_a_visitor_signs_up_from_the_programs_site_and_is_invited(client, acme, program):
    preflight = client.options(_url(program), HTTP_HOST=HOST, HTTP_ORIGIN=SITE)
    assert preflight.status_code == 204 and preflight["Access-Control-Allow-Origin"] == SITE
    response = _post(client, program, NEWT)
    assert response.status_code == 200, response.content
    assert response.json() == {"ok": True, "after_approval": True}
    assert response["Access-Control-Allow-Origin"] == SITE
    with tenant_scope(acme):
        partner = PartnerProfile.objects.get(user__email="newt@example.com")
        assert partner.display_name == "Newt"
        assert Enrollment.objects.get(partner=partner).program == program
        invitation = PartnerInvitation.objects.get(email="newt@example.com")
        assert invitation.partner == partner
        assert Job.objects.filter(func="partners.emails.send_partner_invitation").count() == 1
    assert not partner.user.has_usable_password()


def test_an_address_with_an_account_gets_the_same_answer_and_nothing_is_written(
    client, acme, program
):
    UserFactory(email="known@example.com")
    users = get_user_model().objects.count()
    response = _post(client, program, {**NEWT, "email": "KNOWN@example.com"})
    assert response.status_code == 200
    assert response.json() == {"ok": True, "after_approval": True}
    assert get_user_model().objects.count() == users
    with tenant_scope(acme):
        assert not PartnerProfile.objects.exists()
        assert not PartnerInvitation.objects.exists()
        assert not Job.objects.exists()


def test_the_honeypot_answers_like_a_success_and_writes_nothing(client, acme, program):
    response = _post(client, program, {**NEWT, "website": "http://spam.example"})
    assert response.status_code == 200 and response.json()["ok"] is True
    assert not get_user_model().objects.filter(email="newt@example.com").exists()


@pytest.mark.parametrize(
    ("origin", "status"),
    [("https://evil.example", 403), ("", 403), ("http://shop.example.com", 403)],
)
def test_other_sites_may_not_sign_up_partners(client, program, origin, status):
    response = _post(client, program, NEWT, origin=origin)
    assert response.status_code == status
    assert response.json()["error"]["code"] == "forbidden_origin"
    assert "Access-Control-Allow-Origin" not in response
    assert not get_user_model().objects.filter(email="newt@example.com").exists()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"email": "not-an-address", "name": "Newt", "consent": True}, {"email"}),
        ({"email": "newt@example.com", "name": "  ", "consent": True}, {"name"}),
        ({"email": "newt@example.com", "name": "Newt"}, {"consent"}),
        ({"email": "newt@example.com", "name": "Newt", "consent": "yes"}, {"consent"}),
        ({}, {"email", "name", "consent"}),
    ],
)
def test_bad_fields_get_a_400_naming_each_field(client, program, body, fields):
    response = _post(client, program, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and set(error["fields"]) == fields
    assert not get_user_model().objects.filter(email="newt@example.com").exists()


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"{" * 5000])
def test_a_body_that_is_not_a_json_object_is_a_4xx(client, program, raw):
    response = client.post(
        _url(program), raw, content_type="text/plain", HTTP_HOST=HOST, HTTP_ORIGIN=SITE
    )
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"] == "invalid_json"


def test_each_address_may_try_a_limited_number_of_times(client, program, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "recruit": "2/h/ip"}
    cache.clear()
    for i in range(2):
        assert _post(client, program, {**NEWT, "email": f"n{i}@example.com"}).status_code == 200
    refused = _post(client, program, {**NEWT, "email": "n3@example.com"})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 3000
    assert refused.json()["error"]["code"] == "rate_limited"
    assert not get_user_model().objects.filter(email="n3@example.com").exists()


def test_unknown_closed_invitation_only_and_other_workspaces_programs_are_404(
    client, acme, globex, program
):
    theirs = ProgramFactory(tenant=globex)
    paused = ProgramFactory(tenant=acme, status=Program.Status.PAUSED)
    invited = ProgramFactory(tenant=acme, join_policy=Program.JoinPolicy.INVITATION)
    for key in ("nope", theirs.publishable_key, paused.publishable_key, invited.publishable_key):
        for method in (client.get, client.post):
            response = method(f"/t/{key}/recruit", HTTP_HOST=HOST, HTTP_ORIGIN=SITE)
            assert response.status_code == 404, (key, method)
            assert response.json()["error"]["code"] == "not_found"


def test_the_widget_script_is_served_to_any_site(client, acme):
    response = client.get("/t/recruit.js", HTTP_HOST=HOST)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert b"__prmRecruit" in response.content
