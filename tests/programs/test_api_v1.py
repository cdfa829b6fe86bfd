"""API v1 beyond leads and conversions: scopes, per-key rate limit, error shapes,
idempotency keys, partners, promo codes, lists with filters, rewards and payouts,
other tenants' objects, query budgets, the schema and its docs page."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import override_settings

from partners.models import PartnerInvitation, PartnerProfile
from prm.models import ApiKey, IdempotentRequest, Job
from prm.models.apikey import ALL_SCOPES
from prm.tenancy import tenant_scope
from programs.models import Conversion, Lead, PromoCode
from rewards.models import PayoutMethod, PayoutRequest, Reward
from tests.rewards.helpers import make_partner, make_program, rule, sale

ACME = "acme.localhost"


def make_key(tenant, scopes=None, *, legacy=False):
    secret, prefix, digest = ApiKey.generate()
    ApiKey.all_tenants_unscoped.create(
        tenant=tenant,
        name="test",
        prefix=prefix,
        key_hash=digest,
        scopes=list(ALL_SCOPES if scopes is None else scopes),
        legacy_errors=legacy,
    )
    return secret


def call(client, method, path, body=None, *, key, host=ACME, **headers):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    for name, value in headers.items():
        extra[name if name.isupper() else f"HTTP_{name.upper().replace('-', '_')}"] = value
    return getattr(client, method)(
        path,
        json.dumps(body) if body is not None else None,
        content_type="application/json",
        HTTP_HOST=host,
        **extra,
    )


@pytest.fixture
def world(acme) -> dict[str, Any]:
    """Acme's program with a 20 % rule, Alice (a sale, its reward, a promo code, a lead,
    a payout) and Bob."""
    with tenant_scope(acme):
        program = make_program(acme)
        rule(program)
        alice = make_partner(acme, program, "ALICE")
        bob = make_partner(acme, program, "BOB")
        conversion = sale(program, alice, "100.00", score=False)
        promo = PromoCode.objects.create(tenant=acme, program=program, partner=alice, code="AL10")
        lead = Lead.objects.create(
            tenant=acme, program=program, partner=alice, source="api", email="l@example.com"
        )
        method = PayoutMethod.objects.create(tenant=acme, kind="card", name="Card", currency="USD")
        payout = PayoutRequest.objects.create(
            tenant=acme,
            partner=alice,
            method=method,
            details_masked="**** 4242",
            currency="USD",
            amount=Decimal("5"),
            fee=Decimal("0"),
        )
        reward = Reward.objects.get(conversion=conversion)
    return {
        "program": program,
        "alice": alice,
        "bob": bob,
        "conversion": conversion,
        "promo": promo,
        "lead": lead,
        "payout": payout,
        "reward": reward,
        "key": make_key(acme),
    }


# One GET per resource group: (path template, group).
READS = [
    ("/api/v1/partners", "partners"),
    ("/api/v1/partners/{alice}", "partners"),
    ("/api/v1/promo-codes/AL10", "partners"),
    ("/api/v1/leads", "leads"),
    ("/api/v1/leads/{lead}", "leads"),
    ("/api/v1/conversions", "conversions"),
    ("/api/v1/conversions/{order}?program={program}", "conversions"),
    ("/api/v1/rewards", "rewards"),
    ("/api/v1/rewards/{reward}", "rewards"),
    ("/api/v1/payouts", "rewards"),
    ("/api/v1/payouts/{payout}", "rewards"),
]


def _path(template: str, world: dict[str, Any]) -> str:
    return template.format(
        alice=world["alice"].pk,
        lead=world["lead"].pk,
        order=world["conversion"].external_id,
        reward=world["reward"].pk,
        payout=world["payout"].pk,
        program=world["program"].pk,
    )


@pytest.mark.parametrize(("template", "group"), READS)
def test_reads_need_the_groups_read_scope_and_other_tenants_get_404(
    client, world, globex, template, group
):
    path = _path(template, world)
    other_scopes = [s for s in ALL_SCOPES if not s.startswith(group)]
    assert call(client, "get", path, key=world["key"]).status_code == 200
    write_only = make_key(world["program"].tenant, [f"{group}:write", *other_scopes])
    refused = call(client, "get", path, key=write_only)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    assert f"{group}:read" in refused.json()["error"]["message"]
    # Another workspace's key on its own host: acme's objects do not exist there.
    if "{" in template or "AL10" in template:
        other = call(client, "get", path, key=make_key(globex), host="globex.localhost")
        assert other.status_code == 404
        assert other.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "template", "body", "group"),
    [
        ("post", "/api/v1/partners", {"email": "x@example.com"}, "partners"),
        ("patch", "/api/v1/partners/{alice}", {"status": "blocked"}, "partners"),
        ("post", "/api/v1/promo-codes", {"partner": "{alice}"}, "partners"),
        ("post", "/api/v1/leads", {"email": "x@example.com"}, "leads"),
        ("patch", "/api/v1/leads/{lead}", {"status": "qualified"}, "leads"),
        (
            "post",
            "/api/v1/conversions",
            {"order_id": "Z", "amount": "1", "currency": "USD"},
            "conversions",
        ),  # noqa: E501
        ("post", "/api/v1/conversions/{order}/refunds", {"refund_id": "r"}, "conversions"),
    ],
)
def test_writes_need_the_groups_write_scope(client, world, method, template, body, group):
    read_only = make_key(world["program"].tenant, [f"{group}:read"])
    body = {k: _path(v, world) for k, v in body.items()}
    response = call(client, method, _path(template, world), body, key=read_only)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"
    with tenant_scope(world["program"].tenant):
        assert Conversion.objects.count() == 1 and Lead.objects.count() == 1
        assert PartnerProfile.objects.filter(status="blocked").count() == 0


@pytest.mark.parametrize(
    ("legacy", "expected"),
    [
        (False, {"code": "invalid", "message": "This field is required.", "fields": True}),
        (True, None),
    ],
)
def test_errors_have_one_shape_and_old_keys_keep_the_flat_one(client, world, legacy, expected):
    key = make_key(world["program"].tenant, legacy=legacy)
    body = call(client, "post", "/api/v1/conversions", {"amount": "1"}, key=key).json()
    if legacy:
        assert body["error"] == "invalid input" and "order_id" in body["fields"]
        missing = call(client, "get", "/api/v1/leads/00000000-0000-0000-0000-000000000000", key=key)
        assert missing.json() == {"error": "Lead not found"}
        return
    assert set(body) == {"error"}
    assert body["error"]["code"] == "invalid"
    assert body["error"]["message"] == expected["message"]
    assert set(body["error"]["fields"]) >= {"order_id", "currency"}
    for path, code, status in [
        ("/api/v1/leads/00000000-0000-0000-0000-000000000000", "not_found", 404),
        ("/api/v1/leads?status=nope", "invalid", 400),
        ("/api/v1/leads?created_after=yesterday", "invalid", 400),
    ]:
        response = call(client, "get", path, key=key)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    no_key = call(client, "get", "/api/v1/leads", key=None)
    assert no_key.status_code == 401 and no_key.json()["error"]["code"] == "not_authenticated"


@override_settings(ACCOUNT_RATE_LIMITS={"api_key": "3/m/key", "api_key_failed": "20/m/ip"})
def test_each_key_has_its_own_rate_limit_with_retry_after(client, world):
    other = make_key(world["program"].tenant)
    for _ in range(3):
        assert call(client, "get", "/api/v1/leads", key=world["key"]).status_code == 200
    limited = call(client, "get", "/api/v1/leads", key=world["key"])
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "throttled"
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert call(client, "get", "/api/v1/leads", key=other).status_code == 200


def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(client, world):
    body = {"order_id": "I-1", "amount": "10.00", "currency": "USD", "referral_code": "BOB"}
    first = call(
        client, "post", "/api/v1/conversions", body, key=world["key"], **{"Idempotency-Key": "k1"}
    )  # noqa: E501
    assert first.status_code == 201
    again = call(
        client, "post", "/api/v1/conversions", body, key=world["key"], **{"Idempotency-Key": "k1"}
    )  # noqa: E501
    assert (again.status_code, again.json()) == (201, first.json())
    assert again["Idempotent-Replayed"] == "true"
    other = {**body, "amount": "11.00"}
    reused = call(
        client, "post", "/api/v1/conversions", other, key=world["key"], **{"Idempotency-Key": "k1"}
    )  # noqa: E501
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    # A 4xx answer is kept too; a new key is a new request.
    bad = call(
        client,
        "post",
        "/api/v1/conversions",
        {"order_id": "I-2"},
        key=world["key"],
        **{"Idempotency-Key": "k2"},
    )  # noqa: E501
    assert bad.status_code == 400
    with tenant_scope(world["program"].tenant):
        assert Conversion.objects.filter(external_id="I-1").count() == 1
        assert IdempotentRequest.objects.count() == 2


def test_a_partner_registered_from_the_site_then_approved_and_blocked(client, world, acme):
    acme.partner_signup_open = False
    acme.save()
    key = world["key"]
    created = call(
        client,
        "post",
        "/api/v1/partners",
        {"email": "Newt@Example.com", "name": "Newt", "invite": True},
        key=key,
    )
    assert created.status_code == 201, created.content
    partner = created.json()
    assert (partner["email"], partner["name"], partner["status"]) == (
        "newt@example.com",
        "Newt",
        "pending",
    )
    [enrollment] = partner["programs"]
    assert enrollment["link"].startswith("https://shop.example.com/?ref=")
    assert partner["balances"] == [] and partner["promo_codes"] == []
    with tenant_scope(acme):
        assert PartnerInvitation.objects.get(email="newt@example.com").partner_id is not None
        assert Job.objects.filter(func="partners.emails.send_partner_invitation").exists()
    again = call(client, "post", "/api/v1/partners", {"email": "newt@example.com"}, key=key)
    assert again.status_code == 200 and again.json()["id"] == partner["id"]
    path = f"/api/v1/partners/{partner['id']}"
    approved = call(client, "patch", path, {"status": "active"}, key=key)
    assert approved.json()["status"] == "active"
    bad = call(client, "patch", path, {"status": "pending"}, key=key)
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]
    blocked = call(client, "patch", path, {"status": "blocked", "reason": "spam"}, key=key)
    assert (blocked.json()["status"], blocked.json()["status_reason"]) == ("blocked", "spam")
    alice = call(client, "get", f"/api/v1/partners/{world['alice'].pk}", key=key).json()
    assert alice["balances"][0]["currency"] == "USD"
    assert Decimal(alice["balances"][0]["pending"]) == Decimal("20.00")
    assert [p["code"] for p in alice["promo_codes"]] == ["AL10"]


def test_promo_codes_are_created_and_checked_at_checkout(client, world):
    key = world["key"]
    created = call(
        client,
        "post",
        "/api/v1/promo-codes",
        {"partner": str(world["bob"].pk), "code": "bob5"},
        key=key,
    )
    assert created.status_code == 201, created.content
    assert created.json()["code"] == "BOB5"
    taken = call(
        client,
        "post",
        "/api/v1/promo-codes",
        {"partner": str(world["bob"].pk), "code": "BOB5"},
        key=key,
    )
    assert taken.status_code == 400 and taken.json()["error"]["code"] == "taken"
    check = call(client, "get", "/api/v1/promo-codes/bob5", key=key)
    assert check.status_code == 200
    data = check.json()
    assert data["partner"]["id"] == str(world["bob"].pk)
    assert data["program"]["id"] == str(world["program"].pk)
    assert data["valid"] is True and data["customer_discount"] is None
    with tenant_scope(world["program"].tenant):
        PromoCode.objects.filter(code="BOB5").update(is_active=False)
    assert call(client, "get", "/api/v1/promo-codes/BOB5", key=key).status_code == 404
    assert call(client, "get", "/api/v1/promo-codes/NOPE", key=key).status_code == 404


def test_a_lead_moves_along_through_patch(client, world):
    path = f"/api/v1/leads/{world['lead'].pk}"
    changed = call(
        client, "patch", path, {"status": "qualified", "phone": "", "name": "Lee"}, key=world["key"]
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["status"], changed.json()["name"]) == ("qualified", "Lee")
    bad = call(client, "patch", path, {"status": "won"}, key=world["key"])
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/api/v1/leads", "status=new", 1),
        ("/api/v1/leads", "status=qualified", 0),
        ("/api/v1/leads", "partner={bob}", 0),
        ("/api/v1/conversions", "partner={alice}", 1),
        ("/api/v1/conversions", "created_after=2999-01-01T00:00:00Z", 0),
        ("/api/v1/partners", "program={program}", 2),
        ("/api/v1/partners", "status=blocked", 0),
        ("/api/v1/rewards", "partner={alice}&status=pending", 1),
        ("/api/v1/rewards", "created_before=2000-01-01T00:00:00Z", 0),
        ("/api/v1/payouts", "status=requested&partner={alice}", 1),
        ("/api/v1/payouts", "partner={bob}", 0),
    ],
)
def test_lists_filter(client, world, path, query, expected):
    query = query.format(alice=world["alice"].pk, bob=world["bob"].pk, program=world["program"].pk)
    response = call(client, "get", f"{path}?{query}", key=world["key"])
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == expected


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/partners",
        "/api/v1/leads",
        "/api/v1/conversions",
        "/api/v1/rewards",
        "/api/v1/payouts",
    ],  # noqa: E501
)
def test_lists_page_with_a_cursor_within_a_query_budget(
    client, world, path, django_assert_max_num_queries
):
    tenant = world["program"].tenant
    with tenant_scope(tenant):
        for n in range(3):
            sale(world["program"], world["bob"], f"{n + 1}.00", score=False)
            Lead.objects.create(tenant=tenant, program=world["program"], source="api")
        PayoutRequest.objects.create(
            tenant=tenant,
            partner=world["bob"],
            method=world["payout"].method,
            details_masked="**** 1",
            currency="USD",
            amount=Decimal("1"),
            fee=Decimal("0"),
        )
    call(client, "get", path, key=world["key"])  # warm the host and key caches
    with django_assert_max_num_queries(4):  # key, page (+ last use, + 1 spare)
        first = call(client, "get", f"{path}?limit=1", key=world["key"])
    assert first.status_code == 200
    page = first.json()
    assert len(page["results"]) == 1 and page["next"]
    parts = urlsplit(page["next"])
    second = call(client, "get", f"{parts.path}?{parts.query}", key=world["key"]).json()
    assert second["results"] and second["results"][0]["id"] != page["results"][0]["id"]


def test_the_schema_declares_bearer_auth_and_the_docs_page_is_served_under_the_csp(client, acme):
    schema = client.get("/api/v1/schema/?format=json", HTTP_HOST=ACME)
    assert schema.status_code == 200
    data = json.loads(schema.content)
    assert data["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path in ("/api/v1/partners", "/api/v1/promo-codes/{code}", "/api/v1/payouts"):
        assert path in data["paths"]
    docs = client.get("/api/docs/", HTTP_HOST=ACME)
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "redoc.standalone.js" in html and "cdn." not in html and "<script>" not in html
    csp = docs["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" in csp.split("style-src", 1)[1]


def test_the_key_page_shows_scopes_and_last_use_and_old_answers_are_pruned(
    client, client_for, world, owner
):
    limited = make_key(world["program"].tenant, ["leads:read"])
    call(client, "get", "/api/v1/leads", key=limited, REMOTE_ADDR="203.0.113.7")
    html = client_for(owner).get("/manage/api-keys/").content.decode()
    assert "<code>leads:read</code>" in html and "203.0.113.7" in html
    from datetime import timedelta

    from django.utils import timezone

    from prm.api_support import prune_idempotency_keys

    body = {"order_id": "P-1", "amount": "1.00", "currency": "USD"}
    call(client, "post", "/api/v1/conversions", body, key=world["key"], **{"Idempotency-Key": "p"})
    IdempotentRequest.all_tenants_unscoped.update(created_at=timezone.now() - timedelta(days=2))
    assert prune_idempotency_keys() == 1
