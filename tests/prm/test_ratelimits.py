"""Rate limits per client address and per account: sign-in, password reset, the API key
check (the workspace form's own limits are in test_platform_views).

The test settings raise the per-IP limits (every test client is 127.0.0.1); each test
here sets small ones to see them trip.
"""

from __future__ import annotations

import json

import pytest
from django.core import mail
from django.test import Client, override_settings

from prm.models import ApiKey
from tests.factories import PASSWORD, UserFactory

TOO_MANY_SIGN_INS = "Too many failed login attempts. Try again later."
WRONG = "The email address and/or password you specified are not correct."


def sign_in(host: str, email: str, password: str, ip: str = "127.0.0.1") -> str:
    """Post the sign-in form; the page's errors, or "ok" when it let the person in."""
    response = Client(HTTP_HOST=host, REMOTE_ADDR=ip).post(
        "/accounts/login/", {"login": email, "password": password}
    )
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 302:
        return "ok"
    return response.content.decode()


# Sign-in


@override_settings(ACCOUNT_RATE_LIMITS={"login_failed": "100/m/ip,3/300s/key"})
def test_sign_in_is_limited_per_account_across_hosts_and_addresses(acme, globex, owner):
    for n in range(3):
        assert WRONG in sign_in("acme.localhost", owner.email, "wrong", f"10.0.0.{n}")
    # The right password no longer helps, whichever tenant host, letter case, port or
    # client address the next try comes from.
    for host, ip in [
        ("acme.localhost", "10.9.9.9"),
        ("globex.localhost", "10.9.9.8"),
        ("ACME.LOCALHOST:8000", "10.9.9.7"),
        ("localhost", "10.9.9.6"),
    ]:
        assert TOO_MANY_SIGN_INS in sign_in(host, owner.email.upper(), PASSWORD, ip)
    # Another account is not held back.
    other = UserFactory(email="other@acme.test")
    assert sign_in("acme.localhost", other.email, PASSWORD, "10.9.9.9") == "ok"


@override_settings(ACCOUNT_RATE_LIMITS={"login_failed": "3/m/ip,100/300s/key"})
def test_sign_in_is_limited_per_client_address(acme, owner):
    for n in range(3):
        assert WRONG in sign_in("acme.localhost", f"nobody{n}@acme.test", "x")
    assert TOO_MANY_SIGN_INS in sign_in("acme.localhost", owner.email, PASSWORD)
    assert sign_in("acme.localhost", owner.email, PASSWORD, ip="10.1.1.1") == "ok"


@override_settings(
    ACCOUNT_RATE_LIMITS={"login_failed": "3/m/ip,100/300s/key"}, PRM_TRUSTED_PROXIES=1
)
def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(acme, owner):
    client = Client(HTTP_HOST="acme.localhost")
    for n in range(3):
        client.post(
            "/accounts/login/",
            {"login": owner.email, "password": "x"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        )
    ok = client.post(
        "/accounts/login/",
        {"login": owner.email, "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.50",
    )
    assert ok.status_code == 302


def test_an_empty_forwarded_header_behind_a_proxy_is_not_a_500(acme, owner, settings):
    settings.PRM_TRUSTED_PROXIES = 2
    response = Client(HTTP_HOST="acme.localhost").post(
        "/accounts/login/",
        {"login": owner.email, "password": "x"},
        HTTP_X_FORWARDED_FOR="",
    )
    assert response.status_code == 200


# Password reset


def reset(email: str, ip: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    return Client(HTTP_HOST="localhost", REMOTE_ADDR=ip).post(
        "/accounts/password/reset/", {"email": email}
    )


@override_settings(ACCOUNT_RATE_LIMITS={"reset_password": "100/m/ip,2/m/key"})
def test_password_reset_is_limited_per_e_mail_from_any_address(db):
    UserFactory(email="known@example.test")
    for n in range(2):
        assert reset("known@example.test", f"10.0.0.{n}").status_code == 302
    response = reset("KNOWN@example.test", "10.0.0.9")
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert len(mail.outbox) == 2
    # The same limit for an address without an account: it tells nothing.
    for n in range(2):
        assert reset("nobody@example.test", f"10.0.1.{n}").status_code == 302
    assert reset("nobody@example.test", "10.0.1.9").status_code == 429


@override_settings(ACCOUNT_RATE_LIMITS={"reset_password": "2/m/ip,100/m/key"})
def test_password_reset_is_limited_per_client_address(db):
    for n in range(2):
        assert reset(f"a{n}@example.test").status_code == 302
    assert reset("a9@example.test").status_code == 429
    assert reset("a9@example.test", ip="10.2.2.2").status_code == 302


# The API key check


@pytest.fixture
def secret(acme) -> str:  # type: ignore[no-untyped-def]
    value, prefix, digest = ApiKey.generate()
    ApiKey.all_tenants_unscoped.create(tenant=acme, name="test", prefix=prefix, key_hash=digest)
    return value


def api(method: str, key: str, ip: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    client = Client(HTTP_HOST="acme.localhost", REMOTE_ADDR=ip)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    if method == "get":
        return client.get("/api/v1/conversions/NOPE-1", **headers)
    return client.post(
        "/api/v1/conversions",
        json.dumps({"order_id": "A-1", "amount": "1.00", "currency": "USD"}),
        content_type="application/json",
        **headers,
    )


@override_settings(ACCOUNT_RATE_LIMITS={"api_key_failed": "3/m/ip"})
@pytest.mark.parametrize("method", ["get", "post"])
def test_failed_api_keys_are_limited_per_address_with_retry_after(acme, secret, method):
    for _ in range(3):
        response = api(method, "sk_wrong")
        assert response.status_code == 401
        assert response.json() == {
            "error": {
                "code": "authentication_failed",
                "message": "unknown or revoked API key",
                "fields": {},
            }
        }
    limited = api(method, "sk_wrong")
    assert limited.status_code == 429
    assert limited["Content-Type"] == "application/json"
    error = limited.json()["error"]
    assert error["code"] == "throttled"
    assert error["message"].startswith("too many requests with an unknown or revoked")
    assert 1 <= int(limited["Retry-After"]) <= 60
    # Another client address still gets its honest 401.
    assert api(method, "sk_wrong", ip="10.3.3.3").status_code == 401


@override_settings(ACCOUNT_RATE_LIMITS={"api_key_failed": "3/m/ip"})
def test_a_valid_key_is_never_slowed_by_failures(acme, secret):
    for _ in range(5):
        api("get", "sk_wrong")
    assert api("get", "sk_wrong").status_code == 429
    # Same address, valid key: through the door (to the view's own answer: this
    # workspace has no program yet).
    response = api("get", secret)
    assert response.status_code == 400
    assert "program" in response.json()["error"]["fields"]
    # ... and its successes do not reset the count for the failing ones.
    assert api("get", "sk_wrong").status_code == 429


@override_settings(ACCOUNT_RATE_LIMITS={"api_key_failed": "3/m/ip"})
def test_a_revoked_key_counts_as_a_failure(acme, secret):
    from django.utils import timezone

    ApiKey.all_tenants_unscoped.update(revoked_at=timezone.now())
    statuses = [api("get", secret).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
