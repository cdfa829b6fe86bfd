"""Partner fingerprints: what identifies a partner as a person, kept as keys comparable
with leads and customers (self-referral) and with other partners (duplicate accounts).

Recorded when the partner joins or changes e-mail (the identity e-mail key), signs in
(the sign-in IP, network and device keys, masked like a lead's under the tenant's IP
setting) and saves payout details (card BIN + last four, IBAN, wallet, each a salted
hash — ``programs.services.trace.payer_key``, as the API stores a payer's). Each write
is one upsert that only moves ``last_seen``.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from antifraud.models import PartnerFingerprint
from partners.models import PartnerProfile
from programs.services.normalize import email_key
from programs.services.trace import capture, payer_key

# Payout method kinds (rewards.models.PayoutMethod.Kind) → payer fingerprint shape.
PAYOUT_SHAPES = {"card": "card", "bank": "iban", "yoomoney": "wallet", "paypal": "wallet"}


def fingerprints_record(partner: PartnerProfile, values: dict[str, str]) -> int:
    """Upsert ``kind → value`` fingerprints of ``partner`` (empty values skipped)."""
    now = timezone.now()
    rows = [
        PartnerFingerprint(
            tenant_id=partner.tenant_id,
            partner=partner,
            kind=kind,
            value=value[:128],
            last_seen=now,
        )
        for kind, value in values.items()
        if value
    ]
    if not rows:
        return 0
    PartnerFingerprint.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["tenant", "partner", "kind", "value"],
        update_fields=["last_seen"],
    )
    return len(rows)


def record_identity(partner: PartnerProfile) -> int:
    """The partner's identity e-mail key (on joining, and when the e-mail changes)."""
    return fingerprints_record(partner, {"email": email_key(partner.user.email)})


def record_sign_in(partner: PartnerProfile, *, ip: str, user_agent: str) -> int:
    trace = capture(ip, user_agent, partner.tenant.click_ip_mode)
    return fingerprints_record(partner, {"ip": trace.ip, "net": trace.net, "device": trace.device})


def payout_fingerprint(method_kind: str, account: str) -> tuple[str, str]:
    """(fingerprint kind, value) of a normalised payout account; ('', '') if unknown."""
    shape = PAYOUT_SHAPES.get(method_kind)
    if shape == "card":
        return "card", payer_key(card_bin=account[:6], card_last4=account[-4:])
    if shape == "iban":
        return "iban", payer_key(iban=account)
    if shape == "wallet":
        return "wallet", payer_key(wallet=account)
    return "", ""


def record_payout(partner: PartnerProfile, *, method_kind: str, account: str) -> int:
    kind, value = payout_fingerprint(method_kind, account)
    return fingerprints_record(partner, {kind: value}) if kind else 0


def on_user_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """allauth's ``user_logged_in``: a partner signing in on a tenant's host leaves the
    sign-in keys of this tenant's profile (staff and other tenants: nothing)."""
    from prm.audit import client_ip
    from prm.tenancy import tenant_scope

    tenant = getattr(request, "tenant", None)
    if tenant is None:
        return
    with tenant_scope(tenant):
        partner = PartnerProfile.objects.select_related("tenant").filter(user=user).first()
        if partner is None:
            return
        record_sign_in(
            partner,
            ip=client_ip(request) or "",
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )


def on_email_changed(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """allauth's ``email_changed``: every partner profile of the person, all tenants."""
    profiles = PartnerProfile.all_tenants_unscoped.select_related("user").filter(user=user)
    for partner in profiles:
        record_identity(partner)
