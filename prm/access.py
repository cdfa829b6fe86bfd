"""Access helpers for views: 404 for missing-or-not-yours, 403 for role-not-allowed.

Views reach tenant-owned rows only through these (or through the scoped managers),
never with ad-hoc tenant filters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse

from prm.models import Membership, Tenant
from prm.permissions import Perm, role_has

M = TypeVar("M", bound=models.Model)
View = Callable[..., HttpResponse]


def request_tenant(request: HttpRequest) -> Tenant:
    tenant = getattr(request, "tenant", None)
    if tenant is None:
        raise Http404("no tenant on this host")
    return tenant


def membership_in_tenant(request: HttpRequest) -> Membership | None:
    """The signed-in user's staff membership in the request's tenant (memoised)."""
    # Memoised per user: the user changes within the request that signs them in.
    memo = getattr(request, "_prm_membership", None)
    if memo is None or memo[0] != request.user.pk:
        membership = None
        if request.user.is_authenticated and getattr(request, "tenant", None) is not None:
            membership = Membership.objects.filter(user=request.user).first()
        memo = (request.user.pk, membership)
        request._prm_membership = memo  # type: ignore[attr-defined]
    return memo[1]


def get_in_tenant_or_404(model: type[M] | models.QuerySet[M], **lookup: Any) -> M:
    """Fetch a tenant-owned row of the active tenant (from a model or a queryset of
    its scoped manager); anything else, malformed ids included, is a 404."""
    queryset = model if isinstance(model, models.QuerySet) else model.objects  # type: ignore[attr-defined]
    name = queryset.model.__name__
    # PostgreSQL refuses NUL in text (a DataError, i.e. a 500); no stored value has one.
    if any(isinstance(value, str) and "\x00" in value for value in lookup.values()):
        raise Http404(f"{name} not found")
    try:
        return queryset.get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, ValidationError):
        raise Http404(f"{name} not found") from None


def staff_required(perm: Perm = Perm.CONSOLE_VIEW) -> Callable[[View], View]:
    """Console views: sign-in required; non-members get 404, members lacking ``perm`` 403."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            request_tenant(request)
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = membership_in_tenant(request)
            if membership is None:
                if _partner_profile(request) is not None:
                    raise PermissionDenied("partners have no access to the console")
                raise Http404("not a member of this workspace")
            if not role_has(membership.role, perm):
                raise PermissionDenied(f"role {membership.role} may not {perm}")
            request.membership = membership  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _partner_profile(request: HttpRequest) -> Any:
    from partners.access import partner_profile_in_tenant

    return partner_profile_in_tenant(request)


def can(request: HttpRequest, perm: Perm) -> bool:
    membership = membership_in_tenant(request)
    return membership is not None and role_has(membership.role, perm)
