"""Fixtures of the CRM tests: a fake CRM server per provider (real HTTP on 127.0.0.1),
acme's connection to it, a partner with codes, and a real RQ worker for the crm queue.

``fake`` is parametrised over the three CRMs, so every test that uses it runs once per
connector, unchanged: that is SPEC's test checklist, per connector."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import django_rq
import pytest

from integrations.models import CrmConnection
from integrations.services.connections import connection_save, connection_test
from partners.models import PartnerProfile
from prm.models import Tenant, User
from programs.models import Enrollment, Program
from tests.prm.conftest import BurstWorker
from tests.programs.factories import PromoCodeFactory
from tests.rewards.helpers import make_partner, make_program, rule

FAKES = {
    "amocrm": ("tests.fakes.amocrm", "FakeAmo"),
    "bitrix24": ("tests.fakes.bitrix24", "FakeBitrix"),
    "salesforce": ("tests.fakes.salesforce", "FakeSalesforce"),
}
# Run by the checklist (test_checklist.py) and its own tests; not by every CRM test.
MORE_FAKES = {"hubspot": ("tests.fakes.hubspot", "FakeHubSpot")}


def make_fake(provider: str) -> Any:
    module_name, class_name = {**FAKES, **MORE_FAKES}[provider]
    return getattr(importlib.import_module(module_name), class_name)()


@pytest.fixture(params=list(FAKES))
def fake(request: pytest.FixtureRequest) -> Iterator[Any]:
    server = make_fake(request.param).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def program(acme: Tenant) -> Program:
    program = make_program(acme, name="Pro plan")
    rule(program, value=Decimal("10"))  # 10 % of every won deal
    return program


@pytest.fixture
def alice(acme: Tenant, program: Program) -> PartnerProfile:
    partner = make_partner(acme, program, "ALICE", display_name="Alice Agency")
    PromoCodeFactory(program=program, partner=partner, code="ALICE10")
    return partner


@pytest.fixture
def enrollment(program: Program, alice: PartnerProfile) -> Enrollment:
    return Enrollment.objects.get(program=program, partner=alice)


def connect(
    tenant: Tenant, fake: Any, program: Program | None = None, currency: str = "USD"
) -> CrmConnection:
    """Connect ``tenant`` to ``fake`` as an admin would; deal amounts are in ``currency``
    (the programs of these tests pay in USD)."""
    config = fake.connection_config()
    config.setdefault("settings", {})["currency"] = currency
    crm = connection_save(
        tenant=tenant,
        provider=fake.provider,
        auth_kind=config["auth_kind"],
        base_url=config["base_url"],
        auth_url=config.get("auth_url", ""),
        credentials=config["credentials"],
        settings=config.get("settings", {}),
        program_id=program.pk if program else None,
    )
    ok, message = connection_test(crm)
    assert ok, message
    crm.refresh_from_db()
    return crm


@pytest.fixture
def crm(in_acme: Tenant, fake: Any, program: Program, enrollment: Enrollment) -> CrmConnection:
    return connect(in_acme, fake, program)


@pytest.fixture
def run_crm_jobs(django_capture_on_commit_callbacks: Any) -> Callable[[], None]:
    """Run what waits in the crm and default queues (push, pull, then the accruals they
    start) with a real burst worker, until both are empty. The test's transaction never
    commits, so the jobs' own after-commit dispatches are run as they are captured."""

    def burst() -> None:
        queues = [django_rq.get_queue("crm"), django_rq.get_queue("default")]
        for _ in range(10):
            if not any(q.count for q in queues):
                return
            with django_capture_on_commit_callbacks(execute=True):
                BurstWorker(queues, connection=queues[0].connection).work(burst=True)

    return burst


@pytest.fixture
def staff(admin: User) -> User:
    return admin
