"""Writes to API keys: created with a secret shown once, revoked for good."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from prm.audit import audit_record
from prm.models import ApiKey, Tenant, User
from prm.models.apikey import ALL_SCOPES


@transaction.atomic
def api_key_create(
    *,
    tenant: Tenant,
    actor: User,
    name: str,
    scopes: list[str] | None = None,
    request: HttpRequest | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its secret; only the hash is stored, so the secret is returned once.
    ``scopes`` (None: all) are fixed at creation: a key with other scopes is a new key."""
    chosen = ALL_SCOPES if scopes is None else [s for s in ALL_SCOPES if s in set(scopes)]
    secret, prefix, digest = ApiKey.generate()
    key = ApiKey.objects.create(
        tenant=tenant,
        name=name.strip(),
        prefix=prefix,
        key_hash=digest,
        created_by=actor,
        scopes=list(chosen),
    )
    audit_record(
        tenant=tenant,
        actor=actor,
        action="api_key.create",
        obj=key,
        after={"name": key.name, "prefix": prefix, "scopes": key.scopes},
        request=request,
    )
    return key, secret


@transaction.atomic
def api_key_revoke(
    *, tenant: Tenant, actor: User, key: ApiKey, request: HttpRequest | None = None
) -> bool:
    """Revoke ``key``; False when it already was (nothing is recorded twice)."""
    revoked = ApiKey.objects.filter(pk=key.pk, revoked_at=None).update(revoked_at=timezone.now())
    if revoked:
        audit_record(
            tenant=tenant,
            actor=actor,
            action="api_key.revoke",
            obj=key,
            before={"revoked": False},
            after={"revoked": True},
            request=request,
        )
    return bool(revoked)
