"""Tenant resolution from the host, the tenant's language, and the staff 2FA rule."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from prm.models import Tenant, TenantDomain
from prm.tenancy import tenant_scope

HOST_CACHE_SECONDS = 300
_MISSING = "-"  # cached marker for "no tenant on this host"


def host_cache_key(host: str) -> str:
    return f"tenant-host:{host}"


def _split_host(request: HttpRequest) -> str:
    # get_host() would apply ALLOWED_HOSTS; hosts are validated here instead.
    host = request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", "")
    return host.rsplit(":", 1)[0].lower().rstrip(".") if host else ""


def tenant_for_host(host: str) -> Tenant | None:
    """The active tenant served on ``host``; at most one query, then cached."""
    key = host_cache_key(host)
    cached = cache.get(key)
    if cached == _MISSING:
        return None
    if cached is not None:
        return cached
    tenant: Tenant | None = None
    suffix = "." + settings.PRM_BASE_DOMAIN
    if host.endswith(suffix) and host.count(".") == suffix.count("."):
        # With its branding: every page shows it, and it is cached with the tenant.
        tenant = (
            Tenant.objects.select_related("branding")
            .filter(slug=host[: -len(suffix)], is_active=True)
            .first()
        )
    else:
        # Custom domains are looked up across tenants by definition.
        domain = (
            TenantDomain.all_tenants_unscoped.select_related("tenant", "tenant__branding")
            .filter(domain=host, is_verified=True, tenant__is_active=True)
            .first()
        )
        tenant = domain.tenant if domain else None
    cache.set(key, tenant if tenant is not None else _MISSING, HOST_CACHE_SECONDS)
    return tenant


def forget_tenant_hosts(tenant: Tenant, extra_hosts: list[str] | None = None) -> None:
    """Drop cached host lookups after a tenant or its domains change."""
    hosts = [tenant.host, *(extra_hosts or [])]
    hosts += list(
        TenantDomain.all_tenants_unscoped.filter(tenant=tenant).values_list("domain", flat=True)
    )
    cache.delete_many([host_cache_key(h) for h in hosts])


class TenantMiddleware:
    """Sets ``request.tenant`` and the URLconf, and enters the tenant scope."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        host = _split_host(request)
        if host == settings.PRM_PLATFORM_HOST or host in {"127.0.0.1", "[::1]"}:
            request.tenant = None  # type: ignore[attr-defined]
            request.urlconf = "prm.urls_platform"
            with tenant_scope(None):
                return self.get_response(request)
        if settings.PRM_DEMO_SHOP and host == f"shop.{settings.PRM_BASE_DOMAIN}":
            request.tenant = None  # type: ignore[attr-defined]
            request.urlconf = "programs.shop.urls"
            with tenant_scope(None):
                return self.get_response(request)
        tenant = tenant_for_host(host) if host else None
        if tenant is None:
            html = render_to_string("errors/unknown_host.html", {"host": host}, request=request)
            return HttpResponseNotFound(html)
        request.tenant = tenant  # type: ignore[attr-defined]
        request.urlconf = "prm.urls_tenant"
        with tenant_scope(tenant):
            return self.get_response(request)


class TenantLanguageMiddleware:
    """Use the tenant's language unless the visitor chose one (cookie)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if tenant is not None and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
            translation.activate(tenant.language)
            request.LANGUAGE_CODE = tenant.language
        return self.get_response(request)


class StaffTwoFactorMiddleware:
    """When the owner requires 2FA, staff without TOTP may only set it up."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if (
            tenant is not None
            and tenant.require_staff_2fa
            and request.path.startswith("/manage/")
            and request.user.is_authenticated
        ):
            from allauth.mfa.models import Authenticator

            from prm.access import membership_in_tenant

            if (
                membership_in_tenant(request) is not None
                and not Authenticator.objects.filter(
                    user=request.user, type=Authenticator.Type.TOTP
                ).exists()
            ):
                # Middleware runs before Django activates request.urlconf for reverse().
                urlconf = getattr(request, "urlconf", None)
                return redirect(reverse("prm:twofactor_required", urlconf=urlconf))
        return self.get_response(request)
