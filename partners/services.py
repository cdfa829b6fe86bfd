"""Writes to partners."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from partners.models import PartnerProfile
from partners.privacy import ERASED_IS_FINAL
from prm.audit import audit_record
from prm.models import Tenant, User
from prm.webhooks.events import emit as webhook_emit

RECRUITER_SESSION_KEY = "prm_recruiter"


@transaction.atomic
def partner_join(
    *, tenant: Tenant, user: User, display_name: str = "", recruiter_code: str = ""
) -> PartnerProfile:
    """Make ``user`` a partner of ``tenant`` (idempotent). Approval is needed when the
    tenant does not let partners in on their own. ``recruiter_code`` comes from a
    partner's recruit link (multi-level programs)."""
    status = (
        PartnerProfile.Status.ACTIVE
        if tenant.partner_signup_open
        else PartnerProfile.Status.PENDING
    )
    profile, created = PartnerProfile.objects.get_or_create(
        tenant=tenant,
        user=user,
        defaults={"status": status, "display_name": display_name or user.get_full_name()},
    )
    if recruiter_code and profile.recruited_by_id is None:
        recruiter = PartnerProfile.objects.filter(recruit_code=recruiter_code).first()
        if recruiter is not None:
            partner_set_recruiter(partner=profile, recruiter=recruiter)
    if created:
        # The application is scored (disposable e-mail, block list, another account).
        from antifraud.jobs import enqueue_scoring
        from antifraud.services.fingerprints import record_identity

        record_identity(profile)
        enqueue_scoring(tenant=tenant, partners=[profile.pk])
        if profile.status == PartnerProfile.Status.PENDING:
            from prm.notifications import events

            events.application_received(partner=profile)
        webhook_emit(tenant, "partner.created", [profile])
    return profile


def creates_cycle(partner: PartnerProfile, recruiter: PartnerProfile) -> bool:
    """True when ``partner`` is ``recruiter`` or above them in the chain."""
    seen = set()
    current: PartnerProfile | None = recruiter
    while current is not None and current.pk not in seen:
        if current.pk == partner.pk:
            return True
        seen.add(current.pk)
        current = (
            PartnerProfile.objects.filter(pk=current.recruited_by_id).first()
            if current.recruited_by_id
            else None
        )
    return False


@transaction.atomic
def partner_set_recruiter(
    *, partner: PartnerProfile, recruiter: PartnerProfile | None
) -> PartnerProfile:
    """Attach ``partner`` under ``recruiter``; refuses cycles (and self-recruiting)."""
    from django.utils.translation import gettext as _

    if recruiter is not None and creates_cycle(partner, recruiter):
        raise ValidationError(_("A partner cannot be recruited by their own recruit."))
    PartnerProfile.objects.filter(pk=partner.pk).update(recruited_by=recruiter)
    partner.recruited_by = recruiter
    return partner


@transaction.atomic
def partner_set_status(
    *,
    tenant: Tenant,
    actor: User,
    partner: PartnerProfile,
    status: str,
    reason: str = "",
    request: HttpRequest | None = None,
) -> PartnerProfile:
    """Approve, reject, block or unblock ``partner`` (``reason`` is kept on the profile
    and in the audit log, and is what a block or refusal tells them); an erased partner
    stays blocked. The partner is e-mailed through the notifications (prm.notifications)."""
    partner = PartnerProfile.objects.select_for_update(no_key=True).get(pk=partner.pk)
    before = partner.status
    if before == status:
        return partner
    if partner.erased_at is not None:
        raise ValidationError(ERASED_IS_FINAL, code="erased")
    partner.status = PartnerProfile.Status(status)
    partner.status_reason = reason.strip()[:300]
    partner.save(update_fields=["status", "status_reason"])
    # The tracking hot path caches partner status with each referral code.
    from programs.services.lookups import forget_partner

    transaction.on_commit(lambda: forget_partner(partner))
    from prm.notifications import events

    events.partner_status_changed(partner=partner, before=before, after=status, reason=reason)
    if status == PartnerProfile.Status.ACTIVE:
        webhook_emit(tenant, "partner.approved", [partner], previous_status=before, reason=reason)
    elif status in (PartnerProfile.Status.BLOCKED, PartnerProfile.Status.REJECTED):
        webhook_emit(tenant, "partner.blocked", [partner], previous_status=before, reason=reason)
    audit_record(
        tenant=tenant,
        actor=actor,
        action="partner.status",
        obj=partner,
        before={"status": before},
        after={"status": status, **({"reason": partner.status_reason} if reason else {})},
        request=request,
    )
    return partner
