"""The API's door: secret API keys of the request's tenant, their scopes and rate limit.

Every API view names its resource group in ``api_scope`` (``prm.models.apikey.
SCOPE_GROUPS``); ``ScopePermission`` (the default permission of every API view) lets a
key read with ``<group>:read`` (GET, HEAD, OPTIONS) and write with ``<group>:write``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from prm.audit import client_ip
from prm.models import ApiKey
from prm.models.apikey import SCOPE_GROUPS, hash_secret
from prm.ratelimits import key_limit_hit, limit_hit, retry_after


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer sk_…``: a key of the request's tenant, not revoked, within
    its rate (``ACCOUNT_RATE_LIMITS["api_key"]``, per key)."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[None, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _sep, secret = header.partition(" ")
        if scheme != self.keyword or not secret.startswith("sk_"):
            raise exceptions.AuthenticationFailed("use Authorization: Bearer <secret API key>")
        if getattr(request, "tenant", None) is None:
            raise exceptions.NotFound("no workspace on this host")
        key = ApiKey.objects.filter(key_hash=hash_secret(secret.strip()), revoked_at=None).first()
        if key is None:
            # Only failures count, per client address, and a valid key is looked up
            # before the count is read: limiting first would let one noisy neighbour
            # behind a shared address lock every honest client out. Keys are 256-bit
            # random secrets, so the lookup itself is no oracle worth hiding.
            if limit_hit(request._request, action="api_key_failed"):
                raise exceptions.Throttled(
                    wait=retry_after(request._request, action="api_key_failed"),
                    detail="too many requests with an unknown or revoked API key.",
                )
            raise exceptions.AuthenticationFailed("unknown or revoked API key")
        # Set before the rate check: a 429 answers in this key's error shape too.
        request._request.prm_api_key = key  # type: ignore[attr-defined]
        wait = key_limit_hit(key.pk)
        if wait:
            raise exceptions.Throttled(wait=wait, detail="too many requests with this API key.")
        now = timezone.now()
        ip = client_ip(request._request)
        if (
            key.last_used_at is None
            or (now - key.last_used_at).total_seconds() > 60
            or key.last_used_ip != ip
        ):
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now, last_used_ip=ip)
        return (None, key)

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Declares the Bearer scheme in the OpenAPI schema."""

    target_class = "prm.api.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "sk_…",
            "description": "A secret API key from the console (API keys), with its scopes.",
        }


class HasApiKey(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey)


class ScopePermission(BasePermission):
    """The key's scopes for ``view.api_scope``: read for safe methods, write otherwise.
    A view without an ``api_scope`` is refused (fail closed)."""

    message = _("This API key lacks the scope for this request.")
    code = "insufficient_scope"

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return False  # DRF answers 401 (no credentials) for this
        group = getattr(view, "api_scope", None)
        if group not in SCOPE_GROUPS:
            return False
        level = "read" if request.method in SAFE_METHODS else "write"
        if key.allows(group, level):
            return True
        self.message = _("This API key lacks the %(scope)s scope.") % {  # type: ignore[misc]
            "scope": f"{group}:{level}"
        }
        return False


def api_scope(group: str) -> Callable[[Any], Any]:
    """Name the scope group of a function view made with ``@api_view`` (put above it)."""
    if group not in SCOPE_GROUPS:
        raise ValueError(f"unknown API scope group {group!r}")

    def decorate(view: Any) -> Any:
        view.cls.api_scope = group
        return view

    return decorate
