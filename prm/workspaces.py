"""The workspaces a person belongs to (staff or partner), for the workspace switcher.

Kept in the session, so pages pay no query for the menu: filled at sign-in, and again
when a page finds the person in a workspace the list does not have yet (they joined
one since). Sessions are per host, so each host keeps its own copy.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.http import HttpRequest

from prm.models import Membership, Tenant, User

SESSION_KEY = "prm_workspaces"


def user_workspaces(user: User) -> list[dict[str, Any]]:
    """Every active workspace where ``user`` is staff or a partner, in one query."""
    from partners.models import PartnerProfile

    # Across tenants by definition: this is the person's own list of workspaces.
    staff = Membership.all_tenants_unscoped.filter(user=user).values("tenant_id")
    partner = PartnerProfile.all_tenants_unscoped.filter(user=user).values("tenant_id")
    tenants = (
        Tenant.objects.filter(is_active=True)
        .filter(Q(pk__in=staff) | Q(pk__in=partner))
        .order_by("name")
        .only("id", "name", "slug")
    )
    return [{"id": str(t.pk), "name": t.name, "url": t.base_url + "/"} for t in tenants]


def remember_workspaces(request: HttpRequest, user: User) -> list[dict[str, Any]]:
    workspaces = user_workspaces(user)
    request.session[SESSION_KEY] = workspaces
    return workspaces


def workspaces_of(request: HttpRequest, *, belongs_here: bool) -> list[dict[str, Any]]:
    """The signed-in person's workspaces for the menu (from the session)."""
    user = getattr(request, "user", None)  # pages rendered before the auth middleware
    if user is None or not user.is_authenticated or not hasattr(request, "session"):
        return []
    workspaces = request.session.get(SESSION_KEY)
    tenant = getattr(request, "tenant", None)
    stale = workspaces is None or (
        belongs_here and tenant is not None and all(w["id"] != str(tenant.pk) for w in workspaces)
    )
    if stale:
        workspaces = remember_workspaces(request, user)
    return workspaces  # type: ignore[no-any-return]


def on_sign_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        remember_workspaces(request, user)
