"""Personas: owner, admin, manager, finance, analyst and partner of "acme", and an
outsider who owns another tenant ("globex")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from prm.models import Role, Tenant, User
from prm.tenancy import tenant_scope
from tests import fast_flush
from tests.factories import MembershipFactory, PartnerFactory, TenantFactory, UserFactory

fast_flush.install()


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: object,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """Under pytest-xdist, each worker copies one migrated template (tests/db_template.py)."""
    from django.test.utils import setup_databases, teardown_databases

    from tests import db_template

    run = db_template.run_id()
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        if run:
            template = db_template.setup(run)
        else:
            config = setup_databases(verbosity=0, interactive=False)
    yield
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        if run:
            db_template.teardown(template)
        else:
            teardown_databases(config, verbosity=0)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    # Tenant host lookups and rate limits live in the (Redis) cache, and the tracking
    # hot path keeps a few seconds' copy in process memory.
    from programs import middleware as click_middleware
    from programs.services import lookups

    cache.clear()
    lookups._local.clear()
    click_middleware._hosts.clear()
    yield


@pytest.fixture
def acme(db: None) -> Tenant:
    return TenantFactory(name="Acme", slug="acme")


@contextmanager
def module_rows(django_db_blocker: Any) -> Iterator[None]:
    """Rows shared by a module's tests: made once inside an outer transaction, which
    each test's own transaction (a savepoint in it) rolls back to; the whole is rolled
    back after the module. For modules whose tests each built the same large world:
    they keep their isolation and lose the repeated set-up."""
    from django.db import transaction

    with django_db_blocker.unblock(), transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def acme_owner_module(django_db_setup: None, django_db_blocker: Any) -> Iterator[tuple]:
    """acme and its owner, made once per module (see module_rows)."""
    with module_rows(django_db_blocker):
        tenant = TenantFactory(name="Acme", slug="acme")
        yield tenant, _staff(tenant, Role.OWNER, "owner@acme.test")


def module_world(build: Callable[[Tenant, User], Any], name: str = "world") -> tuple:
    """Fixtures that make ``acme``, ``owner`` and ``build(acme, owner)`` once for the
    module that binds them: ``shared, acme, owner, world = module_world(build)``."""

    @pytest.fixture(scope="module", name="shared")
    def shared(acme_owner_module: tuple) -> tuple:
        tenant, owner = acme_owner_module
        return tenant, owner, build(tenant, owner)

    @pytest.fixture(name="acme")
    def acme_(shared: tuple, db: None) -> Tenant:
        return shared[0]

    @pytest.fixture(name="owner")
    def owner_(shared: tuple) -> User:
        return shared[1]

    @pytest.fixture(name=name)
    def world_(shared: tuple) -> Any:
        return shared[2]

    return shared, acme_, owner_, world_


@pytest.fixture
def globex(db: None) -> Tenant:
    return TenantFactory(name="Globex", slug="globex")


def _staff(tenant: Tenant, role: Role, email: str) -> User:
    return MembershipFactory(tenant=tenant, role=role, user=UserFactory(email=email)).user


@pytest.fixture
def owner(acme: Tenant) -> User:
    return _staff(acme, Role.OWNER, "owner@acme.test")


@pytest.fixture
def admin(acme: Tenant) -> User:
    return _staff(acme, Role.ADMIN, "admin@acme.test")


@pytest.fixture
def manager(acme: Tenant) -> User:
    return _staff(acme, Role.MANAGER, "manager@acme.test")


@pytest.fixture
def finance(acme: Tenant) -> User:
    return _staff(acme, Role.FINANCE, "finance@acme.test")


@pytest.fixture
def analyst(acme: Tenant) -> User:
    return _staff(acme, Role.ANALYST, "analyst@acme.test")


@pytest.fixture
def partner(acme: Tenant) -> User:
    return PartnerFactory(tenant=acme, user=UserFactory(email="partner@acme.test")).user


@pytest.fixture
def outsider(globex: Tenant) -> User:
    return _staff(globex, Role.OWNER, "owner@globex.test")


@dataclass
class HostClient:
    """A test client bound to one host, optionally signed in."""

    client: Client
    host: str

    def get(self, path: str, **extra: object):  # type: ignore[no-untyped-def]
        return self.client.get(path, HTTP_HOST=self.host, **extra)

    def post(self, path: str, data: dict | None = None, **extra: object):  # type: ignore[no-untyped-def]
        return self.client.post(path, data or {}, HTTP_HOST=self.host, **extra)


@pytest.fixture
def client_for() -> Callable[..., HostClient]:
    """``client_for(user, "acme.localhost")``: a client signed in as ``user`` on a host."""

    def make(user: User | None, host: str = "acme.localhost") -> HostClient:
        client = Client()
        if user is not None:
            client.force_login(user)
        return HostClient(client, host)

    return make


@pytest.fixture
def in_acme(acme: Tenant) -> Iterator[Tenant]:
    with tenant_scope(acme):
        yield acme
