"""Password-reset keys bound to the host their e-mailed link names (issue 9)."""

from __future__ import annotations

from typing import Any

from allauth.core import context as allauth_context
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.http import HttpRequest

from prm import public_urls


def request_host(request: HttpRequest) -> str:
    """The Host header without its port (what the visitor's browser addressed)."""
    host = request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", "")
    return host.rsplit(":", 1)[0].lower().rstrip(".")


class HostBoundTokenGenerator(PasswordResetTokenGenerator):
    """Password-reset keys bound to the host their link names.

    The key's hash covers the public host of the tenant it was minted for (the platform
    host outside tenants), so a key from tenant A's e-mail is refused on tenant B or the
    platform host; and it is only accepted on that very host, not on a custom domain of
    the same tenant (the link never points there).
    """

    def _host(self) -> str:
        request = allauth_context.request
        if request is None:
            return ""
        return public_urls.public_host(getattr(request, "tenant", None))

    def _make_hash_value(self, user: Any, timestamp: int) -> str:
        # allauth's e-mail-aware value plus the host. Not a subclass: allauth.account.forms
        # instantiates the configured generator while it is imported, so it is imported
        # only here, at call time.
        from allauth.account.forms import EmailAwarePasswordResetTokenGenerator

        value = EmailAwarePasswordResetTokenGenerator()._make_hash_value(user, timestamp)
        return f"{value}|host:{self._host()}"

    def check_token(self, user: Any, token: str | None) -> bool:
        request = allauth_context.request
        if request is not None and request_host(request) != self._host():
            return False
        return super().check_token(user, token)
