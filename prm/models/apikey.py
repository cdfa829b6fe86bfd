from __future__ import annotations

import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.tenancy import TenantOwned


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# The API's resource groups; a key holds "<group>:read" and/or "<group>:write" for each.
SCOPE_GROUPS = {
    "partners": _("Partners and promo codes"),
    "leads": _("Leads"),
    "conversions": _("Conversions and refunds"),
    "rewards": _("Rewards, payouts and balances"),
    "webhooks": _("Webhook endpoints"),
}
SCOPE_LEVELS = ("read", "write")
ALL_SCOPES = [f"{group}:{level}" for group in SCOPE_GROUPS for level in SCOPE_LEVELS]


def all_scopes() -> list[str]:
    """Every scope: keys made before scopes existed, and the default of a new key."""
    return list(ALL_SCOPES)


class ApiKey(TenantOwned):
    """A secret key for the server-to-server API. Only its hash is stored; the
    secret is shown once, when it is created."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=80)
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    # "<group>:read" / "<group>:write" (SCOPE_GROUPS); write does not imply read.
    scopes = models.JSONField(_("scopes"), default=all_scopes)
    # Keys made before API errors were versioned answer errors in the old flat shape
    # ({"error": "...", "fields": {...}, "code"?}); new keys get {"error": {code, ...}}.
    legacy_errors = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def allows(self, group: str, level: str) -> bool:
        return f"{group}:{level}" in (self.scopes or [])

    @staticmethod
    def generate() -> tuple[str, str, str]:
        """A new secret with its display prefix and hash."""
        secret = "sk_" + secrets.token_urlsafe(32)
        return secret, secret[:10], hash_secret(secret)


class IdempotentRequest(TenantOwned):
    """An ``Idempotency-Key`` seen on a POST: the request's fingerprint and, once it is
    answered, the answer, replayed for the same key and body for a day."""

    id = models.BigAutoField(primary_key=True)
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # sha256 of method, path and body
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotent_request_once"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotent_request_age")]
