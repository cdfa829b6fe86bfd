"""The e-mail an imported partner may be sent: where their cabinet is and how to set a
password (the platform's own reset page, so no key is minted or stored here)."""

from __future__ import annotations

from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from partners.models import PartnerProfile
from prm.public_urls import tenant_url


def send_partner_invitation(*, partner_id: str) -> None:
    """Job: invite one imported partner (re-read: a partner removed meanwhile gets none)."""
    partner = PartnerProfile.objects.select_related("user", "tenant").filter(pk=partner_id).first()
    if partner is None or partner.status == PartnerProfile.Status.BLOCKED:
        return
    tenant = partner.tenant
    reset = reverse("account_reset_password", urlconf="prm.urls_tenant")
    context = {
        "tenant": tenant,
        "partner": partner,
        "url": tenant_url(tenant, "/"),
        "reset_url": tenant_url(tenant, reset),
    }
    with translation.override(tenant.language):
        subject = render_to_string("emails/imported_partner_subject.txt", context).strip()
        body = render_to_string("emails/imported_partner.txt", context)
    send_mail(subject, body, None, [partner.user.email])
