"""Console: the team (members, roles, invitations)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from prm.access import can, get_in_tenant_or_404, staff_required
from prm.forms import InviteForm, RoleForm
from prm.models import Invitation, Membership, Role
from prm.permissions import Perm, assignable_roles
from prm.post_only import post_only
from prm.services import team
from prm.services.errors import ServiceError


@staff_required(Perm.TEAM_VIEW)
def team_list(request: HttpRequest) -> HttpResponse:
    return _team_page(request, None)


def _team_page(request: HttpRequest, invite_form: InviteForm | None) -> HttpResponse:
    actor = request.membership  # type: ignore[attr-defined]
    context = {
        "members": Membership.objects.select_related("user").order_by("created_at"),
        # Pending invitations are e-mail addresses of people not on the team yet: only
        # for those who may send or revoke them. Expired ones stay listed, marked, until
        # re-sent or revoked.
        "invitations": (
            Invitation.objects.filter(status=Invitation.Status.PENDING)
            if can(request, Perm.TEAM_MANAGE)
            else Invitation.objects.none()
        ),
        "now": timezone.now(),
        "invite_form": invite_form or InviteForm(actor_role=actor.role),
        "assignable": assignable_roles(actor.role),
        "roles": Role,
    }
    return render(request, "console/team.html", context)


@staff_required(Perm.TEAM_MANAGE)
@post_only
def team_invite(request: HttpRequest) -> HttpResponse:
    actor = request.membership  # type: ignore[attr-defined]
    form = InviteForm(request.POST, actor_role=actor.role)
    if form.is_valid():
        try:
            team.invitation_send(
                tenant=request.tenant,  # type: ignore[attr-defined]
                actor=actor,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                request=request,
            )
        except ServiceError as exc:
            form.add_error("email", exc.message)
        else:
            messages.success(request, _("Invitation sent to %s.") % form.cleaned_data["email"])
            return redirect("console:team")
    return _team_page(request, form)


@staff_required(Perm.TEAM_MANAGE)
@post_only
def member_role(request: HttpRequest, membership_id: str) -> HttpResponse:
    membership = get_in_tenant_or_404(Membership, pk=membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a valid role."))
        return redirect("console:team")
    try:
        team.membership_change_role(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.membership,  # type: ignore[attr-defined]
            membership=membership,
            role=form.cleaned_data["role"],
            request=request,
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Role of %s changed.") % membership.user.email)
    return redirect("console:team")


@staff_required(Perm.TEAM_MANAGE)
@post_only
def member_remove(request: HttpRequest, membership_id: str) -> HttpResponse:
    membership = get_in_tenant_or_404(Membership, pk=membership_id)
    try:
        team.membership_remove(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.membership,  # type: ignore[attr-defined]
            membership=membership,
            request=request,
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%s was removed from the team.") % membership.user.email)
    return redirect("console:team")


@staff_required(Perm.TEAM_MANAGE)
@post_only
def invitation_revoke(request: HttpRequest, invitation_id: str) -> HttpResponse:
    invitation = get_in_tenant_or_404(Invitation, pk=invitation_id)
    try:
        team.invitation_revoke(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            invitation=invitation,
            request=request,
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Invitation revoked."))
    return redirect("console:team")


@staff_required(Perm.TEAM_MANAGE)
@post_only
def invitation_resend(request: HttpRequest, invitation_id: str) -> HttpResponse:
    invitation = get_in_tenant_or_404(Invitation, pk=invitation_id)
    try:
        team.invitation_resend(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.membership,  # type: ignore[attr-defined]
            invitation=invitation,
            request=request,
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Invitation sent again to %s.") % invitation.email)
    return redirect("console:team")
