"""Migrate the database named by DATABASE_URL and build a small tenant world in it,
then print what a client needs (JSON on stdout). Run as a process of its own by
tests/faults/test_db_restart.py against a private PostgreSQL cluster:

    DJANGO_SETTINGS_MODULE=prm.settings_test DATABASE_URL=... python -m tests.faults.db_world
"""

from __future__ import annotations

import json
import sys

import django


def _signed_in(user: object) -> str:
    """A session of ``user`` as a sign-in leaves it; returns the session key."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)  # type: ignore[attr-defined]
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()  # type: ignore[attr-defined]
    session.create()
    return session.session_key or ""


def build() -> dict[str, str]:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from prm.models import ApiKey, Role
    from prm.tenancy import tenant_scope
    from tests.factories import MembershipFactory, TenantFactory, UserFactory
    from tests.programs.factories import ConversionFactory, EnrollmentFactory, ProgramFactory

    tenant = TenantFactory(name="Acme", slug="acme")
    with tenant_scope(tenant):
        owner = MembershipFactory(tenant=tenant, role=Role.OWNER).user
        program = ProgramFactory(tenant=tenant)
        enrollment = EnrollmentFactory(
            program=program, code="ALICE", partner__user=UserFactory(email="alice@example.test")
        )
        conversion = ConversionFactory(program=program, partner=enrollment.partner)
        secret, prefix, key_hash = ApiKey.generate()
        ApiKey.objects.create(tenant=tenant, name="shop", prefix=prefix, key_hash=key_hash)
    # A workspace that requires staff 2FA: its middleware loads the session (and the
    # user) before any view runs.
    strict = TenantFactory(name="Globex", slug="globex", require_staff_2fa=True)
    with tenant_scope(strict):
        strict_owner = MembershipFactory(tenant=strict, role=Role.OWNER).user
    return {
        "host": tenant.host,
        "session": _signed_in(owner),
        "strict_host": strict.host,
        "strict_session": _signed_in(strict_owner),
        "api_key": secret,
        "order_id": conversion.external_id,
        "publishable_key": program.publishable_key,
    }


if __name__ == "__main__":
    django.setup()
    json.dump(build(), sys.stdout)
