from __future__ import annotations

import pytest
from django.core.cache import cache

from prm.middleware import tenant_for_host
from prm.models import Membership, Role, TenantDomain
from prm.tenancy import TenantScopeError, tenant_scope
from tests.factories import MembershipFactory, TenantFactory


def test_it_refuses_tenant_owned_queries_outside_a_scope(db):
    with pytest.raises(TenantScopeError):
        list(Membership.objects.all())


def test_it_scopes_the_default_manager_to_the_active_tenant(acme, globex):
    mine = MembershipFactory(tenant=acme)
    MembershipFactory(tenant=globex)
    with tenant_scope(acme):
        assert list(Membership.objects.all()) == [mine]
    with tenant_scope(globex):
        assert not Membership.objects.filter(pk=mine.pk).exists()


def test_it_resolves_a_tenant_from_its_subdomain(acme):
    assert tenant_for_host("acme.localhost") == acme
    assert tenant_for_host("nope.localhost") is None
    assert tenant_for_host("a.b.localhost") is None


def test_it_resolves_only_verified_custom_domains(acme):
    domain = TenantDomain.all_tenants_unscoped.create(tenant=acme, domain="partners.acme.com")
    assert tenant_for_host("partners.acme.com") is None
    domain.is_verified = True
    domain.save()
    cache.clear()
    assert tenant_for_host("partners.acme.com") == acme


def test_it_resolves_the_tenant_with_at_most_one_query(acme, client, django_assert_max_num_queries):
    client.get("/", HTTP_HOST="acme.localhost")  # warm the cache
    with django_assert_max_num_queries(0):
        assert tenant_for_host("acme.localhost") == acme


def test_it_answers_unknown_hosts_with_a_404_page(db, client):
    response = client.get("/", HTTP_HOST="nobody.localhost:8000")
    assert response.status_code == 404
    assert b"There is no workspace here" in response.content


def test_it_serves_the_platform_landing_on_the_platform_host(db, client):
    response = client.get("/", HTTP_HOST="localhost:8000")
    assert response.status_code == 200
    assert b"Create your workspace" in response.content


def test_a_deactivated_tenant_is_not_served(db, client):
    TenantFactory(slug="gone", is_active=False)
    assert client.get("/", HTTP_HOST="gone.localhost").status_code == 404


def test_staff_membership_is_unique_per_tenant(acme, owner):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        Membership.all_tenants_unscoped.create(tenant=acme, user=owner, role=Role.ADMIN)
