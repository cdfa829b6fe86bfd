"""Accepting a staff invitation (the link in the e-mail)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from prm.access import get_in_tenant_or_404
from prm.adapters import INVITATION_SESSION_KEY
from prm.models import Invitation
from prm.services.errors import ServiceError
from prm.services.team import invitation_accept


@require_http_methods(["GET", "POST"])
def invitation_detail(request: HttpRequest, token: str) -> HttpResponse:
    invitation = get_in_tenant_or_404(Invitation, token=token)
    if invitation.status != Invitation.Status.PENDING:
        request.session.pop(INVITATION_SESSION_KEY, None)
        return render(request, "invitations/invalid.html", status=410)
    if invitation.is_expired:
        request.session.pop(INVITATION_SESSION_KEY, None)
        return render(request, "invitations/expired.html", {"invitation": invitation}, status=410)
    if not request.user.is_authenticated:
        # Remember the invitation through sign-up or sign-in, then come back here.
        request.session[INVITATION_SESSION_KEY] = token
        return render(request, "invitations/anonymous.html", {"invitation": invitation})
    if request.method == "POST":
        try:
            invitation_accept(
                tenant=request.tenant,  # type: ignore[attr-defined]
                user=request.user,  # type: ignore[arg-type]
                invitation=invitation,
                request=request,
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
            return redirect("prm:invitation_accept", token=token)
        request.session.pop(INVITATION_SESSION_KEY, None)
        return redirect("console:dashboard")
    return render(request, "invitations/accept.html", {"invitation": invitation})


def twofactor_required(request: HttpRequest) -> HttpResponse:
    return render(request, "console/twofactor_required.html")
