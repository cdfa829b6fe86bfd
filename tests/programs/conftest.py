"""Fixtures of the programs pages' tests: acme's program, and its partners alice (the
``partner`` persona) and bob. Modules that need other defaults define their own."""

from __future__ import annotations

import pytest

from partners.models import PartnerProfile
from prm.models import Tenant, User
from programs.models import Enrollment, Program
from tests.factories import PartnerFactory, UserFactory
from tests.programs.factories import EnrollmentFactory, ProgramFactory
from tests.programs.helpers import profile_of


@pytest.fixture
def program(acme: Tenant) -> Program:
    return ProgramFactory(tenant=acme, name="Pro", join_policy=Program.JoinPolicy.APPROVAL)


@pytest.fixture
def alice(acme: Tenant, partner: User) -> PartnerProfile:
    return profile_of(acme, partner)


@pytest.fixture
def bob(acme: Tenant) -> PartnerProfile:
    return PartnerFactory(
        tenant=acme, display_name="Bob", user=UserFactory(email="bob@example.test")
    )


@pytest.fixture
def enrollment(program: Program, alice: PartnerProfile) -> Enrollment:
    return EnrollmentFactory(program=program, partner=alice, code="ALICE")
