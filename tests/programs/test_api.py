"""API v1 and the public tracking endpoints (snippet, /t/l, /r/CODE)."""

from __future__ import annotations

import json

import pytest

from prm.models import ApiKey
from prm.tenancy import tenant_scope
from programs.models import Conversion, Lead, Program
from programs.services.enrollments import enrollment_create
from tests.factories import PartnerFactory, UserFactory


def make_key(tenant):
    secret, prefix, digest = ApiKey.generate()
    ApiKey.all_tenants_unscoped.create(tenant=tenant, name="test", prefix=prefix, key_hash=digest)
    return secret


@pytest.fixture
def program(acme):
    return Program.all_tenants_unscoped.create(
        tenant=acme,
        name="Pro",
        currency="USD",
        status=Program.Status.ACTIVE,
        landing_urls="https://shop.example.com/\nhttps://shop.example.com/pricing",
    )


@pytest.fixture
def alice(acme, program):
    partner = PartnerFactory(tenant=acme, user=UserFactory(email="alice@example.test"))
    with tenant_scope(acme):
        enrollment_create(tenant=acme, program=program, partner=partner, code="ALICE")
    return partner


@pytest.fixture
def api(client, acme):
    secret = make_key(acme)

    def call(method, path, body=None, host="acme.localhost", key=secret):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
        return getattr(client, method)(
            path,
            json.dumps(body) if body is not None else None,
            content_type="application/json",
            HTTP_HOST=host,
            **headers,
        )

    return call


def test_it_records_a_conversion_and_answers_201_then_200(api, program, alice):
    body = {"order_id": "A-1", "amount": "49.90", "currency": "USD", "referral_code": "ALICE"}
    first = api("post", "/api/v1/conversions", body)
    assert first.status_code == 201, first.content
    data = first.json()
    assert data["partner"] == str(alice)
    assert data["amount"] == "49.90"
    again = api("post", "/api/v1/conversions", body)
    assert again.status_code == 200
    assert again.json()["id"] == data["id"]


def test_refunds_through_the_api(api, program):
    api("post", "/api/v1/conversions", {"order_id": "A-1", "amount": "100", "currency": "USD"})
    partial = api("post", "/api/v1/conversions/A-1/refunds", {"refund_id": "r1", "amount": "25.50"})
    assert partial.status_code == 201
    assert partial.json()["refunded_amount"] == "25.50"
    too_much = api("post", "/api/v1/conversions/A-1/refunds", {"refund_id": "r2", "amount": "80"})
    assert too_much.status_code == 400
    assert "larger" in too_much.json()["error"]["message"]
    full = api("post", "/api/v1/conversions/A-1/refunds", {"refund_id": "r3"})
    assert full.json()["status"] == Conversion.Status.REFUNDED
    assert api("get", "/api/v1/conversions/A-1").json()["refunded_amount"] == "100.00"
    assert api("post", "/api/v1/conversions/NOPE/refunds", {"refund_id": "x"}).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"order_id": "A", "amount": "-1", "currency": "USD"},
        {"order_id": "A", "amount": "abc", "currency": "USD"},
        {"order_id": "A", "amount": "1.234", "currency": "USD"},
        {"order_id": "A", "amount": "1", "currency": "XXX"},
        {"order_id": "A", "amount": "1", "currency": "USD", "kind": "gift"},
        {"order_id": "A", "amount": "1", "currency": "USD", "visitor_id": "bad id!"},
        {"order_id": "A", "amount": "1", "currency": "USD", "customer_email": "not-an-email"},
        {"order_id": "A" * 200, "amount": "1", "currency": "USD"},
        {"order_id": "A", "amount": "1", "currency": "USD", "program": "not-a-uuid"},
        {
            "order_id": "A",
            "amount": "1",
            "currency": "USD",
            "program": "00000000-0000-0000-0000-000000000000",
        },
    ],
)
def test_bad_conversions_get_a_4xx_with_a_json_error_and_write_nothing(api, program, body):
    response = api("post", "/api/v1/conversions", body)
    assert 400 <= response.status_code < 500
    assert "error" in response.json()
    assert Conversion.all_tenants_unscoped.count() == 0


def test_non_json_bodies_are_refused(client, acme, program):
    secret = make_key(acme)
    response = client.post(
        "/api/v1/conversions",
        "order_id=1",
        content_type="application/x-www-form-urlencoded",
        HTTP_HOST="acme.localhost",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 415
    assert "error" in response.json()


def test_it_needs_a_valid_key_of_this_tenant(api, acme, globex, program):
    body = {"order_id": "A-1", "amount": "1", "currency": "USD"}
    assert api("post", "/api/v1/conversions", body, key=None).status_code == 401
    assert api("post", "/api/v1/conversions", body, key="sk_wrong").status_code == 401
    globex_key = make_key(globex)
    assert api("post", "/api/v1/conversions", body, key=globex_key).status_code == 401
    revoked = make_key(acme)
    ApiKey.all_tenants_unscoped.filter(prefix=revoked[:10]).update(revoked_at="2026-01-01T00:00Z")
    assert api("post", "/api/v1/conversions", body, key=revoked).status_code == 401


def test_another_tenants_program_is_a_404(api, globex, program):
    other = Program.all_tenants_unscoped.create(
        tenant=globex, name="G", currency="USD", status="active", landing_urls="https://g.example/"
    )
    body = {"order_id": "A-1", "amount": "1", "currency": "USD", "program": str(other.pk)}
    assert api("post", "/api/v1/conversions", body).status_code == 404


def test_leads_through_the_api(api, program, alice):
    response = api("post", "/api/v1/leads", {"email": "Ann@Example.com", "referral_code": "alice"})
    assert response.status_code == 201
    assert response.json()["partner"] == str(alice)
    dup = api("post", "/api/v1/leads", {"email": "ann@example.com"})
    assert dup.json()["duplicate_of"] == response.json()["id"]
    assert api("post", "/api/v1/leads", {"phone": "12"}).status_code == 400


def test_the_schema_is_public(client, acme):
    response = client.get("/api/v1/schema/", HTTP_HOST="acme.localhost")
    assert response.status_code == 200
    assert b"/api/v1/conversions" in response.content


def test_the_snippet_is_served_with_its_config(client, acme, program):
    response = client.get(f"/t/{program.publishable_key}.js", HTTP_HOST="acme.localhost")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    body = response.content.decode()
    assert "(function (cfg)" in body
    assert f'"key":"{program.publishable_key}"' in body
    assert '"endpoint":"http://acme.localhost/t"' in body
    assert client.get("/t/pk_nope.js", HTTP_HOST="acme.localhost").status_code == 404
    assert client.get(
        f"/t/{program.publishable_key}.js", HTTP_HOST="globex.localhost"
    ).status_code in (404,)


def test_snippet_leads_are_credited_by_the_cookie_code(client, acme, program, alice):
    body = {
        "k": program.publishable_key,
        "v": "visitor-0001",
        "c": "ALICE",
        "email": "x@example.com",
    }
    response = client.post(
        "/t/l", json.dumps(body), content_type="text/plain", HTTP_HOST="acme.localhost"
    )
    assert response.status_code == 201
    assert response.json()["credited"] is True
    assert response["Access-Control-Allow-Origin"] == "*"
    with tenant_scope(acme):
        assert Lead.objects.get().partner == alice


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"nope", 400),
        (b'{"k": "pk_nope", "email": "x@example.com"}', 404),
        (b"{}", 404),
        (b'{"k": "PK", "v": "bad visitor!", "email": "x@example.com"}', 400),
        (b'{"k": "PK", "email": "not-an-email"}', 400),
        (b'{"k": "PK", "email": {"a": 1}}', 400),
        (b'{"k": "PK"}', 400),
    ],
)
def test_bad_snippet_leads_get_a_4xx(client, acme, program, body, status):
    body = body.replace(b"PK", program.publishable_key.encode())
    response = client.post("/t/l", body, content_type="text/plain", HTTP_HOST="acme.localhost")
    assert response.status_code == status
    assert "error" in response.json()


def test_the_referral_link_records_a_click_and_redirects_only_to_allowed_urls(
    client, acme, program, alice, settings
):
    settings.PRM_JOBS_INLINE = True  # write the click at once
    response = client.get("/r/alice?sub=yt&utm_source=youtube", HTTP_HOST="acme.localhost")
    assert response.status_code == 302
    assert response["Location"].startswith("https://shop.example.com/?ref=ALICE&prm_vid=")
    assert "sub=yt" in response["Location"] and "utm_source=youtube" in response["Location"]
    evil = client.get("/r/ALICE?to=https://evil.example/", HTTP_HOST="acme.localhost")
    assert evil["Location"].startswith("https://shop.example.com/?")
    sneaky = client.get(
        "/r/ALICE?to=https://shop.example.com.evil.example/", HTTP_HOST="acme.localhost"
    )
    assert sneaky["Location"].startswith("https://shop.example.com/?")
    deeper = client.get("/r/ALICE?to=https://shop.example.com/pricing", HTTP_HOST="acme.localhost")
    assert deeper["Location"].startswith("https://shop.example.com/pricing?ref=ALICE")
    # An unknown code lands on the program's page, crediting nobody (test_unknown_code.py).
    assert client.get("/r/NOBODY", HTTP_HOST="acme.localhost")["Location"] == (
        "https://shop.example.com/"
    )
    assert client.get("/r/ALICE", HTTP_HOST="globex.localhost").status_code == 404
    from programs.models import Click

    with tenant_scope(acme):
        assert Click.objects.filter(source="link", status="accepted").count() == 4
