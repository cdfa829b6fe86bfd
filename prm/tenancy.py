"""The tenant scope: one door to tenant-owned rows.

Request code never filters by tenant by hand. TenantMiddleware (or a job runner)
enters the scope of one tenant, and every tenant-owned model's default manager
filters by it. Outside a scope the default manager refuses to build a queryset at
all (fail closed), so a forgotten scope is an exception, never another tenant's data.

The escape hatch, ``Model.all_tenants_unscoped``, is for operators' tools,
migrations-like commands and cross-tenant jobs; each use carries a comment saying why.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from prm.models import Tenant

_current_tenant: contextvars.ContextVar[Tenant | None] = contextvars.ContextVar(
    "prm_current_tenant", default=None
)


class TenantScopeError(RuntimeError):
    """A tenant-owned table was queried outside any tenant scope."""


def current_tenant() -> Tenant | None:
    return _current_tenant.get()


def require_tenant() -> Tenant:
    tenant = _current_tenant.get()
    if tenant is None:
        raise TenantScopeError("no tenant scope is active")
    return tenant


@contextmanager
def tenant_scope(tenant: Tenant | None) -> Iterator[Tenant | None]:
    """Enter the scope of ``tenant`` (or of none) for the duration of the block."""
    token = _current_tenant.set(tenant)
    try:
        yield tenant
    finally:
        _current_tenant.reset(token)


class TenantScopedManager(models.Manager):
    """Default manager of tenant-owned models: filtered to the active tenant."""

    def get_queryset(self) -> models.QuerySet[Any]:
        tenant = _current_tenant.get()
        if tenant is None:
            raise TenantScopeError(
                f"{self.model.__name__} queried outside a tenant scope; "
                "use tenant_scope() or the all_tenants_unscoped manager"
            )
        return super().get_queryset().filter(tenant_id=tenant.pk)


class TenantOwned(models.Model):
    """Abstract base: a non-null tenant and the fail-closed manager."""

    tenant = models.ForeignKey("prm.Tenant", on_delete=models.CASCADE, related_name="+")

    objects = TenantScopedManager()
    # Ugly on purpose: every use needs a comment that says why it may cross tenants.
    all_tenants_unscoped = models.Manager()  # noqa: DJ012

    class Meta:
        abstract = True
        # Django's internals (cascades, related lookups) use the plain manager.
        base_manager_name = "all_tenants_unscoped"
