"""E-mail jobs. Each re-reads its rows, so a repeated delivery sends from fresh data."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from prm.branding import email_reply_to, email_sender
from prm.models import Invitation, Tenant
from prm.public_urls import platform_url, tenant_url


def send_invitation(*, invitation_id: str) -> None:
    invitation = (
        Invitation.objects.select_related("tenant", "invited_by")
        .filter(pk=invitation_id, status=Invitation.Status.PENDING)
        .first()
    )
    if invitation is None or invitation.is_expired:
        return  # revoked, accepted or expired meanwhile
    tenant = invitation.tenant
    path = reverse("prm:invitation_accept", args=[invitation.token], urlconf="prm.urls_tenant")
    context = {"tenant": tenant, "invitation": invitation, "url": tenant_url(tenant, path)}
    with translation.override(tenant.language):
        subject = render_to_string("emails/invitation_subject.txt", context).strip()
        body = render_to_string("emails/invitation.txt", context)
    send_branded(tenant, subject=subject, body=body, to=[invitation.email])


def send_branded(
    tenant: Tenant, *, subject: str, body: str, to: list[str], html: str | None = None
) -> None:
    """An e-mail from ``tenant``: its sender name (on the platform's address) and its
    reply-to (prm.branding). Every e-mail a tenant's people get goes through here."""
    message = EmailMultiAlternatives(
        subject, body, email_sender(tenant), to, reply_to=email_reply_to(tenant)
    )
    if html is not None:
        message.attach_alternative(html, "text/html")
    message.send()


def send_workspace_link(*, name: str, slug: str, email: str, language: str) -> None:
    """The landing form's answer: a signed link that confirms creating the workspace.

    The token is made here, not in the request, so it is never stored (a Job row keeps
    only the request's fields).
    """
    from prm.services.workspace_signup import WorkspaceRequest, workspace_link_token

    request = WorkspaceRequest(name=name, slug=slug, email=email, language=language)
    path = reverse(
        "workspace_confirm", args=[workspace_link_token(request)], urlconf="prm.urls_platform"
    )
    context = {
        "name": name,
        "workspace_url": tenant_url(Tenant(slug=slug)),  # where it will live
        "url": platform_url(path),
        "hours": settings.PRM_WORKSPACE_LINK_HOURS,
    }
    with translation.override(language):
        subject = render_to_string("emails/workspace_link_subject.txt", context).strip()
        body = render_to_string("emails/workspace_link.txt", context)
    send_mail(subject, body, None, [email])
