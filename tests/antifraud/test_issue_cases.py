"""The four cases of issue 11's first paragraph, through the public endpoints, with
jobs run as they are without Redis (inline, after commit)."""

from __future__ import annotations

import json

import pytest

from antifraud.models import RiskAssessment
from prm.tenancy import tenant_scope
from programs.models import Conversion, Lead
from rewards.models import Reward
from tests.antifraud.helpers import make_world
from tests.programs.test_api import make_key
from tests.rewards.helpers import make_partner


@pytest.fixture
def inline(settings, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    settings.PRM_JOBS_INLINE = True
    return django_capture_on_commit_callbacks


@pytest.fixture
def world(acme):  # type: ignore[no-untyped-def]
    with tenant_scope(acme):
        return make_world(acme)


@pytest.fixture
def api(client, acme):  # type: ignore[no-untyped-def]
    secret = make_key(acme)

    def call(path, body):  # type: ignore[no-untyped-def]
        return client.post(
            path,
            json.dumps(body),
            content_type="application/json",
            HTTP_HOST="acme.localhost",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )

    return call


def risk_of(acme, **subject):  # type: ignore[no-untyped-def]
    with tenant_scope(acme):
        found = RiskAssessment.objects.get(**subject)
        return found.level, set(found.signals.values_list("code", flat=True))


def test_a_partner_referring_themselves_is_flagged_and_held(acme, world, api, inline):
    program, alice = world  # alice@example.test, code ALICE
    with inline(execute=True):
        lead = api("/api/v1/leads", {"email": "Alice@Example.test", "referral_code": "ALICE"})
        sale = api(
            "/api/v1/conversions",
            {
                "order_id": "own-1",
                "amount": "100.00",
                "currency": "USD",
                "customer_email": "alice+shop@example.test",
                "referral_code": "ALICE",
            },
        )
    assert lead.status_code == sale.status_code == 201
    level, codes = risk_of(acme, subject="lead", lead_id=lead.json()["id"])
    assert (level, "self_referral" in codes) == ("review", True)
    level, codes = risk_of(acme, subject="conversion", conversion_id=sale.json()["id"])
    assert (level, "self_referral" in codes) == ("review", True)
    with tenant_scope(acme):
        assert all(r.flagged for r in Reward.objects.all())
        assert Reward.objects.count() == 2


def test_ten_snippet_leads_from_one_ip_all_end_flagged(acme, world, client, inline):
    program, alice = world
    with inline(execute=True):
        for i in range(10):
            body = {"k": program.publishable_key, "c": "ALICE", "email": f"p{i}@example.com"}
            response = client.post(
                "/t/l",
                json.dumps(body),
                content_type="text/plain",
                HTTP_HOST="acme.localhost",
                REMOTE_ADDR="203.0.113.77",
                HTTP_USER_AGENT="Bot/1.0",
            )
            assert response.status_code == 201
    with tenant_scope(acme):
        leads = list(Lead.objects.all())
        assert {x.ip for x in leads} == {"203.0.113.0"}  # truncated, as clicks are
        levels = dict(RiskAssessment.objects.filter(subject="lead").values_list("lead_id", "level"))
        assert len(levels) == 10
        assert set(levels.values()) <= {"review", "reject"}
        assert not Reward.objects.filter(flagged=False, status="pending").exists()


def test_the_same_customer_as_name_plus_2_is_flagged(acme, world, api, inline):
    program, alice = world
    with inline(execute=True):
        api("/api/v1/leads", {"email": "jane.roe@gmail.com", "referral_code": "ALICE"})
        again = api("/api/v1/leads", {"email": "janeroe+2@gmail.com", "referral_code": "ALICE"})
    level, codes = risk_of(acme, subject="lead", lead_id=again.json()["id"])
    assert (level, codes) == ("review", {"repeat_customer"})


def test_an_absurd_api_sale_and_its_upline_share_are_held(acme, world, api, inline):
    program, alice = world
    with tenant_scope(acme):
        bob = make_partner(acme, program, "BOB")
        bob.recruited_by = alice
        bob.save()
    with inline(execute=True):
        sale = api(
            "/api/v1/conversions",
            {
                "order_id": "huge",
                "amount": "99999999.99",
                "currency": "USD",
                "referral_code": "BOB",
            },
        )
    level, codes = risk_of(acme, subject="conversion", conversion_id=sale.json()["id"])
    assert (level, "amount_cap" in codes) == ("review", True)
    with tenant_scope(acme):
        rewards = Reward.objects.filter(conversion__external_id="huge")
        assert {r.level for r in rewards} == {1, 2}
        assert all(r.flagged and r.status == "pending" for r in rewards)
        assert str(Conversion.objects.get(external_id="huge").amount) == "99999999.99"
