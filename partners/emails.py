"""E-mail jobs to partners: the invitation link and the application's decision.

Until a notification service exists (issue 13, point 5) these send with Django's mail
API like prm.emails does; each job re-reads its rows, so a repeated run sends fresh data.
"""

from __future__ import annotations

from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from partners.models import PartnerInvitation, PartnerProfile
from prm.public_urls import tenant_url


def send_partner_invitation(*, invitation_id: str) -> None:
    invitation = (
        PartnerInvitation.objects.select_related("tenant", "program", "invited_by")
        .filter(pk=invitation_id, status=PartnerInvitation.Status.PENDING)
        .first()
    )
    if invitation is None or invitation.is_expired:
        return  # used, withdrawn or expired meanwhile
    tenant = invitation.tenant
    path = reverse("partners:invitation", args=[invitation.token], urlconf="prm.urls_tenant")
    context = {"tenant": tenant, "invitation": invitation, "url": tenant_url(tenant, path)}
    with translation.override(tenant.language):
        subject = render_to_string("emails/partner_invitation_subject.txt", context).strip()
        body = render_to_string("emails/partner_invitation.txt", context)
    send_mail(subject, body, None, [invitation.email])


def send_application_decision(*, partner_id: str) -> None:
    """The applicant learns whether they were approved (or why they were rejected)."""
    partner = PartnerProfile.objects.select_related("tenant", "user").filter(pk=partner_id).first()
    if partner is None or partner.is_erased:
        return
    if partner.status not in (PartnerProfile.Status.ACTIVE, PartnerProfile.Status.REJECTED):
        return  # decided otherwise since
    tenant = partner.tenant
    context = {
        "tenant": tenant,
        "partner": partner,
        "approved": partner.status == PartnerProfile.Status.ACTIVE,
        "url": tenant_url(tenant, "/"),
    }
    with translation.override(tenant.language):
        subject = render_to_string("emails/application_decision_subject.txt", context).strip()
        body = render_to_string("emails/application_decision.txt", context)
    send_mail(subject, body, None, [partner.user.email])
