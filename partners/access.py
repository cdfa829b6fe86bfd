from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from partners.models import PartnerProfile


def partner_profile_in_tenant(request: HttpRequest) -> PartnerProfile | None:
    """The signed-in user's partner profile in the request's tenant (memoised)."""
    # Memoised per user: the user changes within the request that signs them in.
    memo = getattr(request, "_prm_partner", None)
    if memo is None or memo[0] != request.user.pk:
        profile = None
        if request.user.is_authenticated and getattr(request, "tenant", None) is not None:
            profile = PartnerProfile.objects.filter(user=request.user).first()
        memo = (request.user.pk, profile)
        request._prm_partner = memo  # type: ignore[attr-defined]
    return memo[1]


def partner_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Cabinet views: sign-in required; users without a profile here are sent to join."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        profile = partner_profile_in_tenant(request)
        if profile is None:
            return redirect("partners:join")
        request.partner = profile  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper
