"""Writes to partners."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest

from partners.models import PartnerProfile
from prm.audit import audit_record
from prm.models import Tenant, User


@transaction.atomic
def partner_join(*, tenant: Tenant, user: User, display_name: str = "") -> PartnerProfile:
    """Make ``user`` a partner of ``tenant`` (idempotent). Approval is needed when the
    tenant does not let partners in on their own."""
    status = (
        PartnerProfile.Status.ACTIVE
        if tenant.partner_signup_open
        else PartnerProfile.Status.PENDING
    )
    profile, _ = PartnerProfile.objects.get_or_create(
        tenant=tenant,
        user=user,
        defaults={"status": status, "display_name": display_name or user.get_full_name()},
    )
    return profile


@transaction.atomic
def partner_set_status(
    *,
    tenant: Tenant,
    actor: User,
    partner: PartnerProfile,
    status: str,
    request: HttpRequest | None = None,
) -> PartnerProfile:
    partner = PartnerProfile.objects.select_for_update().get(pk=partner.pk)
    before = partner.status
    if before == status:
        return partner
    partner.status = PartnerProfile.Status(status)
    partner.save(update_fields=["status"])
    # The tracking hot path caches partner status with each referral code.
    from programs.services.lookups import forget_partner

    transaction.on_commit(lambda: forget_partner(partner))
    audit_record(
        tenant=tenant,
        actor=actor,
        action="partner.status",
        obj=partner,
        before={"status": before},
        after={"status": status},
        request=request,
    )
    return partner
