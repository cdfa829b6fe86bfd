"""The API's side of antifraud: the visitor's IP and user agent in, the risk out."""

from __future__ import annotations

import json

import pytest

from antifraud.services.scoring import score_conversions, score_leads
from prm.tenancy import tenant_scope
from programs.models import Conversion, Lead
from tests.antifraud.helpers import make_world
from tests.programs.test_api import make_key


@pytest.fixture
def world(acme):  # type: ignore[no-untyped-def]
    with tenant_scope(acme):
        return make_world(acme)


@pytest.fixture
def api(client, acme):  # type: ignore[no-untyped-def]
    secret = make_key(acme)

    def call(method, path, body=None, host="acme.localhost"):  # type: ignore[no-untyped-def]
        return getattr(client, method)(
            path,
            json.dumps(body) if body is not None else None,
            content_type="application/json",
            HTTP_HOST=host,
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )

    return call


def test_a_lead_keeps_the_visitors_ip_masked_and_its_risk_appears_once_scored(acme, world, api):
    made = api(
        "post",
        "/api/v1/leads",
        {
            "email": "x@mailinator.com",
            "referral_code": "ALICE",
            "ip": "203.0.113.9",
            "user_agent": "Firefox",
        },
    )
    assert made.status_code == 201
    lead_id = made.json()["id"]
    assert api("get", f"/api/v1/leads/{lead_id}").json()["risk"] is None
    with tenant_scope(acme):
        lead = Lead.objects.get(pk=lead_id)
        assert (lead.ip, lead.net, lead.user_agent) == ("203.0.113.0", "203.0.113.0/24", "Firefox")
        assert len(lead.device) == 32
        score_leads([lead_id])
    risk = api("get", f"/api/v1/leads/{lead_id}").json()["risk"]
    assert risk == {
        "score": 30,
        "level": "ok",
        "reasons": [
            {
                "code": "disposable_email",
                "message": "The e-mail address is at mailinator.com, a disposable mailbox service.",
            }
        ],
    }


def test_a_conversion_shows_its_risk(acme, world, api):
    body = {"order_id": "A-1", "amount": "2000000", "currency": "USD", "referral_code": "ALICE"}
    assert api("post", "/api/v1/conversions", body).json()["risk"] is None
    with tenant_scope(acme):
        score_conversions([Conversion.objects.get(external_id="A-1").pk])
    risk = api("get", "/api/v1/conversions/A-1").json()["risk"]
    assert (risk["level"], [r["code"] for r in risk["reasons"]]) == ("review", ["amount_cap"])


def test_a_bad_ip_is_a_400_in_the_standard_shape(world, api):
    response = api("post", "/api/v1/leads", {"email": "a@example.com", "ip": "999.1.1.1"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "ip" in error["fields"]


def test_payer_fingerprints_are_validated_and_stored_hashed(acme, world, api):
    bad = {"order_id": "P-0", "amount": "10", "currency": "USD", "payer": {"card_bin": "411111"}}
    assert api("post", "/api/v1/conversions", bad).status_code == 400
    good = {**bad, "order_id": "P-1", "payer": {"card_bin": "411111", "card_last4": "1111"}}
    assert api("post", "/api/v1/conversions", good).status_code == 201
    with tenant_scope(acme):
        payer = Conversion.objects.get(external_id="P-1").payer
    assert payer.startswith("card:") and "1111" not in payer


def test_a_lead_of_another_workspace_is_a_404(acme, globex, world, api):
    with tenant_scope(globex):
        from programs.services.leads import LeadInput, lead_create
        from tests.rewards.helpers import make_program

        other = make_program(globex)

        theirs = lead_create(
            tenant=globex, program=other, source="api", data=LeadInput(email="t@example.com")
        )
    assert api("get", f"/api/v1/leads/{theirs.pk}").status_code == 404
    assert api("get", "/api/v1/leads/not-a-uuid").status_code == 404


def test_the_schema_documents_ip_payer_and_risk(client, acme):
    schema = client.get("/api/v1/schema/", HTTP_HOST="acme.localhost").content.decode()
    for name in ("user_agent", "card_last4", "RiskOut", "/api/v1/leads/{lead_id}"):
        assert name in schema
