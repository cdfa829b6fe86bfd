from __future__ import annotations

from collections.abc import Iterator

import pytest

from partners.models import PartnerProfile
from prm.models import Tenant
from programs.models import Program
from tests.antifraud.world import registered
from tests.rewards.helpers import make_partner, make_program, rule


@pytest.fixture(autouse=True)
def test_signals() -> Iterator[None]:
    yield from registered()


@pytest.fixture
def program(in_acme: Tenant) -> Program:
    program = make_program(in_acme)
    rule(program)  # 20% of every sale
    return program


@pytest.fixture
def alice(in_acme: Tenant, program: Program) -> PartnerProfile:
    return make_partner(in_acme, program, "ALICE")
