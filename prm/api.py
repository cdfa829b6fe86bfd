"""The API's door: secret API keys of the request's tenant."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from prm.models import ApiKey
from prm.models.apikey import hash_secret
from prm.ratelimits import limit_hit, retry_after


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer sk_…``: a key of the request's tenant, not revoked."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[None, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
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
        if key.last_used_at is None or (timezone.now() - key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
        return (None, key)

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class HasApiKey(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey)
