"""Operators' tools on the platform host: Django admin and the RQ dashboard."""

from __future__ import annotations

import pytest

from tests.factories import UserFactory


@pytest.fixture
def operator(db):
    return UserFactory(email="ops@example.test", is_staff=True, is_superuser=True)


@pytest.mark.parametrize("path", ["/ops/admin/", "/ops/admin/rq/", "/ops/admin/prm/tenant/"])
def test_superusers_reach_the_operator_tools(client_for, operator, path):
    response = client_for(operator, "localhost").get(path)
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/ops/admin/", "/ops/admin/rq/", "/ops/admin/prm/tenant/"])
def test_tenant_owners_and_staff_flagged_users_do_not(client_for, owner, path):
    owner.is_staff = True  # even the Django staff flag is not enough
    owner.save()
    response = client_for(owner, "localhost").get(path)
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_anonymous_visitors_are_sent_to_the_login(client_for, db):
    response = client_for(None, "localhost").get("/ops/admin/rq/")
    assert response.status_code == 302


def test_the_operator_tools_do_not_exist_on_tenant_hosts(client_for, operator, acme):
    assert client_for(operator, "acme.localhost").get("/ops/admin/").status_code == 404


def test_operators_see_every_tenants_rows_in_the_admin(client_for, operator, owner, outsider):
    response = client_for(operator, "localhost").get("/ops/admin/prm/membership/")
    assert response.status_code == 200
    assert b"owner@acme.test" in response.content
    assert b"owner@globex.test" in response.content
