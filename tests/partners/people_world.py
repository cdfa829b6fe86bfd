"""Helpers of the partner-page tests: a program, a partner with a bit of everything."""

from __future__ import annotations

from typing import Any

from partners.models import PartnerProfile
from prm.models import Tenant
from prm.tenancy import tenant_scope
from tests.factories import PartnerFactory, UserFactory
from tests.programs.factories import (
    ClickFactory,
    ConversionFactory,
    EnrollmentFactory,
    LeadFactory,
    ProgramFactory,
)


def in_scope(tenant: Tenant, fn: Any, *args: Any, **kwargs: Any) -> Any:
    with tenant_scope(tenant):
        return fn(*args, **kwargs)


def reload(tenant: Tenant, partner: PartnerProfile) -> PartnerProfile:
    with tenant_scope(tenant):
        return PartnerProfile.objects.select_related("user", "group").get(pk=partner.pk)


def busy_partner(tenant: Tenant, n: int, email: str = "busy@example.test") -> PartnerProfile:
    """A partner with ``n`` clicks, leads and conversions in one program."""
    program = ProgramFactory(tenant=tenant, name=f"Program {email}")
    partner = PartnerFactory(tenant=tenant, user=UserFactory(email=email), display_name="Busy")
    enrollment = EnrollmentFactory(program=program, partner=partner)
    for _ in range(n):
        ClickFactory(enrollment=enrollment)
        LeadFactory(program=program, partner=partner)
        ConversionFactory(program=program, partner=partner)
    return partner
