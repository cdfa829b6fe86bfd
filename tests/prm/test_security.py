from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet
from django.test import override_settings

from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # The test process's own settings variables (DEBUG=0, SSL redirect off) stay out.
    own = ("DJANGO_", "PRM_", "SECURE_", "DEBUG", "SECRET_KEY")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "prm.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_reports_nothing_with_production_settings():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        PRM_ENCRYPTION_KEY=Fernet.generate_key().decode(),  # production sets it (prm.W001)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = run_manage("check", DEBUG="0", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_pages_carry_csp_and_framing_headers(db, client):
    response = client.get("/", HTTP_HOST="localhost")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_templates_have_no_inline_scripts_or_handlers():
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        if path.relative_to(ROOT / "templates").parts[0] == "emails":
            continue  # e-mails are read in mail clients, not served under the CSP
        text = path.read_text()
        if "<script>" in text or " onclick=" in text or " onchange=" in text or " style=" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_failed_logins_are_rate_limited_on_the_redis_cache(acme, owner, client):
    with override_settings(ACCOUNT_RATE_LIMITS={"login_failed": "3/m/ip"}):
        responses = [
            client.post(
                "/accounts/login/",
                {"login": owner.email, "password": "wrong"},
                HTTP_HOST="acme.localhost",
            )
            for _ in range(5)
        ]
        # Even the right password is refused while the limit holds.
        blocked = client.post(
            "/accounts/login/",
            {"login": owner.email, "password": PASSWORD},
            HTTP_HOST="acme.localhost",
        )
    assert b"Too many failed login attempts" not in responses[0].content
    assert b"Too many failed login attempts" in responses[-1].content
    assert blocked.status_code == 200
    assert "_auth_user_id" not in client.session


def test_logins_are_rate_limited_per_ip(acme, owner, client):
    with override_settings(ACCOUNT_RATE_LIMITS={"login": "2/m/ip"}):
        statuses = [
            client.post(
                "/accounts/login/",
                {"login": owner.email, "password": "wrong"},
                HTTP_HOST="acme.localhost",
            ).status_code
            for _ in range(3)
        ]
    assert statuses[-1] == 429


def test_signup_is_rate_limited(acme, client):
    with override_settings(ACCOUNT_RATE_LIMITS={"signup": "2/m/ip"}):
        statuses = [
            client.post(
                "/accounts/signup/",
                {"email": f"p{i}@example.test", "password1": "x", "password2": "y"},
                HTTP_HOST="acme.localhost",
            ).status_code
            for i in range(4)
        ]
    assert statuses[-1] == 429
