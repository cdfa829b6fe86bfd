"""A program in acme with two partners (Alice speaks Russian, Bob the workspace's
English), staff of every role, and jobs run inline right after commit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core import mail

from partners.models import PartnerProfile
from prm.models import Tenant
from prm.notifications.models import NotificationPreference
from programs.models import Program
from tests.rewards.helpers import make_partner, make_program, rule


@pytest.fixture(autouse=True)
def inline_jobs(settings: Any, in_acme: Tenant) -> None:
    settings.PRM_JOBS_INLINE = True


@pytest.fixture
def program(in_acme: Tenant) -> Program:
    program = make_program(in_acme, name="Pro plan", hold_days=0)
    rule(program)
    return program


@pytest.fixture
def alice(in_acme: Tenant, program: Program) -> PartnerProfile:
    alice = make_partner(in_acme, program, "ALICE", display_name="Alice")
    NotificationPreference.objects.create(tenant=in_acme, user=alice.user, language="ru")
    return alice


@pytest.fixture
def bob(in_acme: Tenant, program: Program) -> PartnerProfile:
    return make_partner(in_acme, program, "BOB", display_name="Bob")


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """``committed(fn, **kw)``: run ``fn`` and what it left for after commit (the jobs),
    starting from an empty outbox."""

    def run(fn: Callable[..., Any], **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    return run


@pytest.fixture
def outbox() -> Iterator[list[Any]]:
    mail.outbox.clear()
    yield mail.outbox


def to(address: str) -> list[Any]:
    return [m for m in mail.outbox if address in m.to]
