"""A partner's personal data: exported on request (JSON) and erased on request.

The export holds the partner's own data only. The customers they referred (leads,
conversions, clicks' visitors) are the tenant's customers, not the partner's data, so
only counts appear. Erasure anonymises personal fields but never touches the
append-only ledger, rewards or payouts: the money history must still add up.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext as _

from partners.models import PartnerProfile
from prm.audit import audit_record
from prm.models import Membership, User


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else value


def partner_data_export(*, partner: PartnerProfile) -> dict[str, Any]:
    """The partner's own data as JSON-safe dict. Payout details are masked only;
    referred customers' personal data is left out (it is the tenant's, not theirs)."""
    from programs.models import Click, Enrollment, PromoCode
    from rewards.models import LedgerEntry, PayoutDetails, PayoutRequest, Reward

    user = partner.user
    return {
        "profile": {
            "id": str(partner.pk),
            "status": partner.status,
            "display_name": partner.display_name,
            "company": partner.company,
            "recruit_code": partner.recruit_code,
            "created_at": _iso(partner.created_at),
        },
        "user": {
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
        },
        "enrollments": [
            {
                "program": e.program.name,
                "code": e.code,
                "status": e.status,
                "created_at": _iso(e.created_at),
            }
            for e in Enrollment.objects.filter(partner=partner).select_related("program")
        ],
        "promo_codes": [
            {"program": p.program.name, "code": p.code, "is_active": p.is_active}
            for p in PromoCode.objects.filter(partner=partner).select_related("program")
        ],
        "rewards": [
            {
                "kind": r.kind,
                "amount": str(r.amount),
                "currency": r.currency,
                "status": r.status,
                "created_at": _iso(r.created_at),
            }
            for r in Reward.objects.filter(partner=partner).order_by("created_at")
        ],
        "ledger": [
            {
                "kind": e.kind,
                "currency": e.currency,
                "pending": str(e.pending),
                "available": str(e.available),
                "processing": str(e.processing),
                "paid": str(e.paid),
                "created_at": _iso(e.created_at),
            }
            for e in LedgerEntry.objects.filter(partner=partner).order_by("pk")
        ],
        "payouts": [
            {
                "amount": str(p.amount),
                "fee": str(p.fee),
                "currency": p.currency,
                "status": p.status,
                "details": p.details_masked,
                "created_at": _iso(p.created_at),
                "paid_at": _iso(p.paid_at),
            }
            for p in PayoutRequest.objects.filter(partner=partner).order_by("created_at")
        ],
        "payout_methods": [
            {"method": d.method.name, "details": d.masked}
            for d in PayoutDetails.objects.filter(partner=partner).select_related("method")
        ],
        "clicks": {
            row["program__name"]: row["n"]
            for row in Click.objects.filter(partner=partner)
            .values("program__name")
            .annotate(n=Count("id"))
        },
    }


@transaction.atomic
def partner_erase(*, partner: PartnerProfile, actor: User | None, reason: str) -> PartnerProfile:
    """Anonymise ``partner`` and block it; the ledger, rewards and payouts stay as
    they are. Refused while a payout is requested or approved but not paid."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator

    from rewards.models import PayoutDetails, PayoutRequest

    partner = PartnerProfile.objects.select_for_update().get(pk=partner.pk)
    in_flight = PayoutRequest.objects.filter(
        partner=partner,
        status__in=[PayoutRequest.Status.REQUESTED, PayoutRequest.Status.APPROVED],
    )
    if in_flight.exists():
        raise ValidationError(
            _("This partner has a payout in progress; pay or reject it before erasing.")
        )
    short = str(partner.pk).split("-")[0]
    partner.display_name = ""
    partner.company = ""
    partner.status = PartnerProfile.Status.BLOCKED
    partner.save(update_fields=["display_name", "company", "status"])
    PayoutDetails.objects.filter(partner=partner).update(encrypted="", masked="", holder="")
    user = partner.user
    # Users are global: one who is also staff or a partner elsewhere keeps their account;
    # only this tenant's profile is cut off from it, by moving it to a new erased user.
    others = (
        PartnerProfile.all_tenants_unscoped.filter(user=user).exclude(pk=partner.pk).exists()
        or Membership.all_tenants_unscoped.filter(user=user).exists()
    )
    if others:
        user = User(email=f"erased-{short}@invalid")
    user.email = f"erased-{short}@invalid"
    user.first_name = ""
    user.last_name = ""
    user.is_active = False
    user.set_unusable_password()
    user.save()
    if others:
        PartnerProfile.objects.filter(pk=partner.pk).update(user=user)
        partner.user = user
    else:
        EmailAddress.objects.filter(user=user).delete()
        Authenticator.objects.filter(user=user).delete()
    from programs.services.lookups import forget_partner

    transaction.on_commit(lambda: forget_partner(partner))
    audit_record(
        tenant=partner.tenant,
        actor=actor,
        action="partner.erase",
        obj=partner,
        after={"reason": reason},
    )
    return partner
