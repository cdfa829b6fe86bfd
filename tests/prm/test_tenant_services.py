from __future__ import annotations

import pytest

from prm.middleware import tenant_for_host
from prm.models import AuditEntry, Membership, Role, Tenant, TenantDomain
from prm.services.errors import DOMAIN_TAKEN, SLUG_RESERVED, SLUG_TAKEN, ServiceError
from prm.services.tenants import (
    domain_add,
    domain_remove,
    tenant_create,
    tenant_update_settings,
)
from prm.tenancy import tenant_scope
from tests.factories import UserFactory

# tenant_create


def test_it_creates_a_workspace_with_its_first_owner_and_an_audit_row(db):
    user = UserFactory(email="founder@example.test")
    tenant = tenant_create(name="Initech", slug="Initech", owner=user, language="ru")
    assert (tenant.name, tenant.slug, tenant.language) == ("Initech", "initech", "ru")
    with tenant_scope(tenant):
        membership = Membership.objects.get()
        [entry] = AuditEntry.objects.all()
    assert (membership.user, membership.role) == (user, Role.OWNER)
    assert (entry.action, entry.actor, entry.object_id) == ("tenant.create", user, str(tenant.pk))
    assert entry.after == {"name": "Initech", "slug": "initech"}


def test_it_refuses_a_reserved_address(db):
    with pytest.raises(ServiceError) as exc:
        tenant_create(name="Admin", slug="admin", owner=UserFactory())
    assert exc.value.message == SLUG_RESERVED
    assert not Tenant.objects.filter(slug="admin").exists()


def test_it_refuses_a_taken_address(acme):
    with pytest.raises(ServiceError) as exc:
        tenant_create(name="Acme 2", slug="ACME", owner=UserFactory())
    assert exc.value.message == SLUG_TAKEN
    assert Tenant.objects.filter(slug="acme").count() == 1


def test_a_new_workspace_is_served_even_if_its_host_was_cached_as_unknown(db):
    assert tenant_for_host("initech.localhost") is None  # cached as "nobody here"
    tenant = tenant_create(name="Initech", slug="initech", owner=UserFactory())
    assert tenant_for_host("initech.localhost") == tenant


# tenant_update_settings


def test_it_updates_settings_and_audits_the_difference(acme, owner):
    tenant_update_settings(
        tenant=acme, actor=owner, changes={"name": "Acme", "default_currency": "GBP"}
    )
    acme.refresh_from_db()
    assert acme.default_currency == "GBP"
    entry = AuditEntry.all_tenants_unscoped.get(tenant=acme)
    assert (entry.action, entry.actor) == ("settings.update", owner)
    assert (entry.before, entry.after) == ({"default_currency": "USD"}, {"default_currency": "GBP"})


def test_it_refuses_fields_that_are_not_settings(acme, owner):
    with pytest.raises(ValueError):
        tenant_update_settings(
            tenant=acme, actor=owner, changes={"name": "Renamed", "is_active": False}
        )
    acme.refresh_from_db()
    assert (acme.name, acme.is_active) == ("Acme", True)
    assert not AuditEntry.all_tenants_unscoped.filter(tenant=acme).exists()


def test_new_settings_reach_the_host_cache_after_commit(
    acme, owner, django_capture_on_commit_callbacks
):
    assert tenant_for_host("acme.localhost").require_staff_2fa is False
    with django_capture_on_commit_callbacks(execute=True):
        tenant_update_settings(tenant=acme, actor=owner, changes={"require_staff_2fa": True})
    assert tenant_for_host("acme.localhost").require_staff_2fa is True


# domain_add and domain_remove


def test_it_adds_a_domain_in_lower_case_unverified_with_an_audit_row(in_acme, owner):
    row = domain_add(tenant=in_acme, actor=owner, domain="Partners.Acme.com")
    assert (row.domain, row.is_verified, row.tenant) == ("partners.acme.com", False, in_acme)
    entry = AuditEntry.objects.get(action="domain.add")
    assert (entry.actor, entry.object_id, entry.after) == (
        owner,
        str(row.pk),
        {"domain": "partners.acme.com"},
    )


def test_a_domain_is_connected_to_one_workspace_only(in_acme, owner):
    domain_add(tenant=in_acme, actor=owner, domain="partners.acme.com")
    with pytest.raises(ServiceError) as exc:
        domain_add(tenant=in_acme, actor=owner, domain="PARTNERS.acme.com")
    assert exc.value.message == DOMAIN_TAKEN
    assert TenantDomain.objects.count() == 1
    assert AuditEntry.objects.filter(action="domain.add").count() == 1


def test_removing_a_domain_audits_it_and_forgets_the_host_after_commit(
    in_acme, owner, django_capture_on_commit_callbacks
):
    row = TenantDomain.objects.create(tenant=in_acme, domain="partners.acme.com", is_verified=True)
    assert tenant_for_host("partners.acme.com") == in_acme
    with django_capture_on_commit_callbacks(execute=True):
        domain_remove(tenant=in_acme, actor=owner, domain=row)
    assert not TenantDomain.objects.exists()
    entry = AuditEntry.objects.get(action="domain.remove")
    assert entry.before == {"domain": "partners.acme.com", "is_verified": True}
    assert tenant_for_host("partners.acme.com") is None
