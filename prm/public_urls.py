"""The one source of the platform's public URLs.

Every link the platform renders or sends (snippet tags, referral and recruit links,
e-mails, CRM webhook and OAuth redirect URLs, the `make run` banner) is built here from
settings (PRM_SCHEME, the hosts, PRM_PUBLIC_PORT), never from the request's Host header,
which a visitor controls.

A tenant's links use its slug host (``<slug>.PRM_BASE_DOMAIN``) even when a verified
custom domain serves it too: TenantDomain has no notion of a primary domain (a tenant
may have several), and the slug host always works. `make run` with PORT=... sets
PRM_PUBLIC_PORT (bin/run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from prm.models import Tenant


def origin(host: str) -> str:
    """``scheme://host[:port]`` for one of our hosts."""
    port = f":{settings.PRM_PUBLIC_PORT}" if settings.PRM_PUBLIC_PORT else ""
    return f"{settings.PRM_SCHEME}://{host}{port}"


def platform_url(path: str = "") -> str:
    """An absolute URL on the platform's own host (workspace sign-up, operators)."""
    return origin(settings.PRM_PLATFORM_HOST) + path


def tenant_url(tenant: Tenant, path: str = "") -> str:
    """An absolute URL on a tenant's host."""
    return origin(tenant.host) + path


def public_host(tenant: Tenant | None) -> str:
    """The host (no port) our links name for a request served for ``tenant``
    (None: the platform host)."""
    return tenant.host if tenant is not None else settings.PRM_PLATFORM_HOST


def request_url(request: object, path: str = "") -> str:
    """An absolute URL on the public host of the tenant a request is served for (the
    platform's when none), whatever Host header the request came with."""
    tenant = getattr(request, "tenant", None)
    return origin(public_host(tenant)) + path
