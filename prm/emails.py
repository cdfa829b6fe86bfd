"""E-mail jobs. Each re-reads its rows, so a repeated delivery sends from fresh data."""

from __future__ import annotations

from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

from prm.models import Invitation


def send_invitation(*, invitation_id: str) -> None:
    invitation = (
        Invitation.objects.select_related("tenant", "invited_by")
        .filter(pk=invitation_id, status=Invitation.Status.PENDING)
        .first()
    )
    if invitation is None:
        return  # revoked or accepted meanwhile
    tenant = invitation.tenant
    context = {
        "tenant": tenant,
        "invitation": invitation,
        "url": f"{tenant.base_url}/invite/{invitation.token}/",
    }
    with translation.override(tenant.language):
        subject = render_to_string("emails/invitation_subject.txt", context).strip()
        body = render_to_string("emails/invitation.txt", context)
    send_mail(subject, body, None, [invitation.email])
