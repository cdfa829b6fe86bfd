from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from prm.permissions import Perm


def tenancy(request: HttpRequest) -> dict[str, Any]:
    """The tenant and what the signed-in person may do there, for the layouts."""
    from prm.branding import branding_for
    from prm.workspaces import workspaces_of

    tenant = getattr(request, "tenant", None)
    if tenant is None:
        return {"tenant": None, "workspaces": workspaces_of(request, belongs_here=False)}
    from partners.access import partner_profile_in_tenant
    from prm.access import membership_in_tenant
    from prm.permissions import role_has

    membership = membership_in_tenant(request)
    partner_profile = partner_profile_in_tenant(request)
    role = membership.role if membership else None
    context = {
        "tenant": tenant,
        # The tenant's look (prm.branding): also what e-mails and PDFs use.
        "branding": branding_for(tenant),
        "workspaces": workspaces_of(
            request, belongs_here=membership is not None or partner_profile is not None
        ),
        "membership": membership,
        "partner_profile": partner_profile,
        "perms": {p.name.lower(): role_has(role, p) for p in Perm},
    }
    if role_has(role, Perm.ANTIFRAUD_VIEW):
        # A callable: the template calls it only where the sidebar shows the badge.
        from antifraud.selectors import waiting_count

        context["antifraud_waiting"] = lambda: waiting_count(tenant)
    return context
