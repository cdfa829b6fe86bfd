"""Writes to tenants: creating a workspace, its settings and custom domains."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from prm.audit import audit_record, snapshot
from prm.middleware import forget_tenant_hosts
from prm.models import Membership, Role, Tenant, TenantDomain, User
from prm.services.errors import DOMAIN_TAKEN, SLUG_RESERVED, SLUG_TAKEN, ServiceError
from prm.tenancy import tenant_scope

SETTINGS_FIELDS = [
    "name",
    "default_currency",
    "language",
    "timezone",
    "partner_signup_open",
    "require_staff_2fa",
    "manual_approval_above",
    "correction_confirm_above",
    "correction_second_approval_above",
]


def tenant_create(
    *, name: str, slug: str, owner: User, language: str = "en", request: HttpRequest | None = None
) -> Tenant:
    """A new workspace with ``owner`` as its first owner."""
    slug = slug.lower()
    if slug in settings.PRM_RESERVED_SLUGS:
        raise ServiceError(SLUG_RESERVED)
    try:
        with transaction.atomic():
            tenant = Tenant.objects.create(name=name, slug=slug, language=language)
            with tenant_scope(tenant):
                Membership.objects.create(tenant=tenant, user=owner, role=Role.OWNER)
                audit_record(
                    tenant=tenant,
                    actor=owner,
                    action="tenant.create",
                    obj=tenant,
                    after=snapshot(tenant, ["name", "slug"]),
                    request=request,
                )
    except IntegrityError:
        raise ServiceError(SLUG_TAKEN) from None
    forget_tenant_hosts(tenant)  # a cached "no tenant here" for this host is now wrong
    return tenant


@transaction.atomic
def tenant_update_settings(
    *, tenant: Tenant, actor: User, changes: dict[str, object], request: HttpRequest | None = None
) -> Tenant:
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    before = snapshot(tenant, SETTINGS_FIELDS)
    for field, value in changes.items():
        if field not in SETTINGS_FIELDS:
            raise ValueError(f"not a settings field: {field}")
        setattr(tenant, field, value)
    tenant.save()
    after = snapshot(tenant, SETTINGS_FIELDS)
    diff_keys = [k for k in SETTINGS_FIELDS if before[k] != after[k]]
    if diff_keys:
        audit_record(
            tenant=tenant,
            actor=actor,
            action="settings.update",
            obj=tenant,
            before={k: before[k] for k in diff_keys},
            after={k: after[k] for k in diff_keys},
            request=request,
        )
    transaction.on_commit(lambda: forget_tenant_hosts(tenant))
    return tenant


def domain_add(
    *, tenant: Tenant, actor: User, domain: str, request: HttpRequest | None = None
) -> TenantDomain:
    """Connect a custom domain. It serves the tenant once an operator verifies it
    (DNS pointing at the platform is checked outside the product)."""
    try:
        with transaction.atomic():
            row = TenantDomain.objects.create(tenant=tenant, domain=domain.lower())
            audit_record(
                tenant=tenant,
                actor=actor,
                action="domain.add",
                obj=row,
                after={"domain": row.domain},
                request=request,
            )
    except IntegrityError:
        raise ServiceError(DOMAIN_TAKEN) from None
    return row


@transaction.atomic
def domain_remove(
    *, tenant: Tenant, actor: User, domain: TenantDomain, request: HttpRequest | None = None
) -> None:
    audit_record(
        tenant=tenant,
        actor=actor,
        action="domain.remove",
        obj=domain,
        before={"domain": domain.domain, "is_verified": domain.is_verified},
        request=request,
    )
    name = domain.domain
    domain.delete()
    transaction.on_commit(lambda: forget_tenant_hosts(tenant, [name]))
