"""E-mail job to a person invited to be a partner: the invitation link.

An invitation goes to someone who has no account or preferences yet, so it is not a
notification: it is sent with Django's mail API; the job re-reads its row, so a repeat is safe.
"""

from __future__ import annotations

from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from partners.models import PartnerInvitation
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
