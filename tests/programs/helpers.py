"""Small helpers shared by the tests of the programs pages."""

from __future__ import annotations

from django.contrib.messages import get_messages

from partners.models import PartnerProfile
from prm.models import AuditEntry, Membership, Tenant, User
from prm.tenancy import tenant_scope


def messages_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


def actions(tenant: Tenant) -> list[str]:
    """The audit log of ``tenant``, oldest first."""
    return list(
        AuditEntry.all_tenants_unscoped.filter(tenant=tenant)
        .order_by("created_at")
        .values_list("action", flat=True)
    )


def profile_of(tenant: Tenant, user: User) -> PartnerProfile:
    with tenant_scope(tenant):
        return PartnerProfile.objects.select_related("user").get(user=user)


def membership_of(tenant: Tenant, user: User) -> Membership:
    with tenant_scope(tenant):
        return Membership.objects.select_related("user").get(user=user)
