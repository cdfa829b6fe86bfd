"""The audit log service: one call per staff change, inside the change's transaction."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.http import HttpRequest

from prm.models import AuditEntry, Tenant, User


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address, trusting X-Forwarded-For only as far as configured."""
    if request is None:
        return None
    proxies = settings.PRM_TRUSTED_PROXIES
    if proxies:
        header = request.META.get("HTTP_X_FORWARDED_FOR", "")
        forwarded = [part.strip() for part in header.split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR") or None


def snapshot(obj: models.Model, fields: list[str]) -> dict[str, Any]:
    """JSON-safe copy of ``fields`` of ``obj`` for before/after."""
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(obj, name)
        if (
            isinstance(value, models.Model)
            or value is not None
            and not isinstance(value, bool | int | float | str)
        ):
            value = str(value)
        out[name] = value
    return out


def audit_record(
    *,
    tenant: Tenant,
    actor: User | None,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEntry:
    # The tenant is given explicitly, and jobs may record outside a request scope.
    return AuditEntry.all_tenants_unscoped.create(
        tenant=tenant,
        actor=actor,
        actor_email=actor.email if actor else "",
        action=action,
        object_type=object_type or (obj._meta.model_name if obj is not None else ""),
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        before=before or {},
        after=after or {},
        ip=client_ip(request),
    )
