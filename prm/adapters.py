"""django-allauth adapter: which host may sign up whom, where people land, and which
host the links in allauth's e-mails name (never the request's Host header)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.http import HttpRequest
from django.urls import reverse

from prm import public_urls

INVITATION_SESSION_KEY = "prm_invitation_token"


@dataclass(frozen=True)
class PublicSite:
    """Stands in for allauth's ``current_site`` (a RequestSite would echo the Host
    header into e-mails)."""

    domain: str
    name: str


def _public_url(request: HttpRequest, url: str) -> str:
    """``url`` re-rooted on the public host of the request's tenant (or the platform)."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return public_urls.request_url(request, path)


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request: HttpRequest) -> str:
        # Rate limits count per client address: the same trusted-proxy rule as the audit
        # log (allauth's own reading of X-Forwarded-For answers 500 on a short header).
        from prm.audit import client_ip

        return client_ip(request) or super().get_client_ip(request)

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        # allauth keys failed sign-ins by "<request host>:<login>"; every tenant host,
        # custom domain, port and letter case of the Host header would then get its own
        # five tries at the same account. One account, one counter.
        login = credentials.get("email", credentials.get("username", ""))
        return f"login:{str(login).strip().lower()}"

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        tenant = getattr(request, "tenant", None)
        if tenant is None:
            # On the platform host people sign up by creating a workspace (landing page).
            return False
        if tenant.partner_signup_open:
            return True
        # Closed sign-up still lets a person with a pending staff invitation in.
        token = request.session.get(INVITATION_SESSION_KEY)
        if not token:
            return False
        from django.utils import timezone

        from prm.models import Invitation

        return Invitation.objects.filter(
            token=token, status=Invitation.Status.PENDING, expires_at__gt=timezone.now()
        ).exists()

    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        user = super().save_user(request, user, form, commit=commit)
        tenant = getattr(request, "tenant", None)
        # Someone who signs up to accept a staff invitation is not made a partner.
        if commit and tenant is not None and INVITATION_SESSION_KEY not in request.session:
            from partners.services import RECRUITER_SESSION_KEY, partner_join

            partner_join(
                tenant=tenant,
                user=user,
                recruiter_code=request.session.pop(RECRUITER_SESSION_KEY, ""),
            )
        return user

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        token = request.session.get(INVITATION_SESSION_KEY)
        if token:
            return reverse("prm:invitation_accept", args=[token])
        from prm.access import membership_in_tenant

        if getattr(request, "tenant", None) is not None and membership_in_tenant(request):
            return reverse("console:dashboard")
        return super().get_login_redirect_url(request)

    def get_email_verification_redirect_url(self, email_address: Any) -> str:
        # Confirming does not sign in someone whose sign-up began in another session
        # (a workspace owner signs up on the platform host): they go to the sign-in page.
        if not self.request.user.is_authenticated:
            return super().get_email_verification_redirect_url(email_address)
        return self.get_login_redirect_url(self.request)

    def get_email_confirmation_url(self, request: HttpRequest, emailconfirmation: Any) -> str:
        # A workspace created on the platform host is confirmed on its own host, where
        # its owner will sign in (sessions are per host).
        tenant = getattr(request, "signup_tenant", None)
        if tenant is not None:
            path = reverse(
                "account_confirm_email", args=[emailconfirmation.key], urlconf="prm.urls_tenant"
            )
            return tenant.base_url + path
        path = reverse("account_confirm_email", args=[emailconfirmation.key])
        return public_urls.request_url(request, path)

    def get_reset_password_from_key_url(self, key: str) -> str:
        return _public_url(self.request, super().get_reset_password_from_key_url(key))

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        request = allauth_context.request
        if request is not None:
            # allauth builds some links (sign-up, reset, "account already exists") from
            # the request: any link naming the request's own host is moved to ours.
            own = request.META.get("HTTP_HOST", "").lower()
            for name, value in list(context.items()):
                is_url = isinstance(value, str) and value.startswith(("http://", "https://"))
                if is_url and urlsplit(value).netloc.lower() == own:
                    context[name] = _public_url(request, value)
            tenant = getattr(request, "tenant", None)
            origin = public_urls.request_url(request)
            context.setdefault(
                "current_site",
                PublicSite(domain=origin.split("://", 1)[1], name=tenant.name if tenant else "PRM"),
            )
        super().send_mail(template_prefix, email, context)

    def _mail_tenant(self) -> Any:
        request = allauth_context.request
        return getattr(request, "tenant", None) if request is not None else None

    def format_email_subject(self, subject: str) -> str:
        tenant = self._mail_tenant()
        if tenant is None:
            return super().format_email_subject(subject)
        from prm.branding import branding_for

        return f"[{branding_for(tenant).title}] {subject}"

    def render_mail(
        self,
        template_prefix: str,
        email: str | list[str],
        context: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Account e-mails sent on a tenant's host (sign-up confirmation, password
        reset) carry the tenant's sender name and reply-to (prm.branding)."""
        message = super().render_mail(template_prefix, email, context, headers)
        tenant = self._mail_tenant()
        if tenant is not None:
            from prm.branding import email_reply_to, email_sender

            message.from_email = email_sender(tenant)
            message.reply_to = email_reply_to(tenant)
        return message
