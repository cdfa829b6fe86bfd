"""Console: a partner's page and what staff do there (edit, status with a reason, notes,
tags, group), adding a partner by hand and inviting partners by e-mail."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from partners import selectors
from partners.forms_people import (
    GroupMoveForm,
    NoteForm,
    PartnerAddForm,
    PartnerInviteForm,
    ProfileForm,
    StatusChangeForm,
    TagPickForm,
)
from partners.invites import (
    partner_add,
    partner_invitation_resend,
    partner_invitation_revoke,
    partner_invite,
)
from partners.models import (
    PartnerInvitation,
    PartnerNote,
    PartnerProfile,
    PartnerTag,
    SignupQuestion,
    TermsAcceptance,
)
from partners.people import groups_move, note_add, partner_update, tags_assign, tags_unassign
from partners.services import partner_set_status
from prm.access import can, get_in_tenant_or_404, staff_required
from prm.permissions import Perm
from prm.post_only import post_only

HISTORY_PAGE = 20
RECENT = 10


def _partner(partner_id: str) -> PartnerProfile:
    return get_in_tenant_or_404(
        PartnerProfile.objects.select_related("user", "group"), pk=partner_id
    )


def _back(partner: PartnerProfile) -> HttpResponse:
    return redirect("console:partner_detail", partner_id=partner.pk)


@staff_required(Perm.PARTNERS_VIEW)
@require_http_methods(["GET"])
def partner_detail(request: HttpRequest, partner_id: str) -> HttpResponse:
    partner = _partner(partner_id)
    return _page(request, partner)


def _page(request: HttpRequest, partner: PartnerProfile, **forms: Any) -> HttpResponse:
    from programs.models import Enrollment, Lead, PromoCode

    sees_money = can(request, Perm.MONEY_VIEW)
    manages = can(request, Perm.PARTNERS_MANAGE) and not partner.is_erased
    context: dict[str, Any] = {
        "partner": partner,
        "enrollments": list(
            Enrollment.objects.filter(partner=partner).select_related("program")[:50]
        ),
        "promo_codes": list(
            PromoCode.objects.filter(partner=partner).select_related("program")[:50]
        ),
        "stats": selectors.partner_stats(partner),
        "leads": list(
            Lead.objects.filter(partner=partner)
            .select_related("program")
            .order_by("-created_at")[:RECENT]
        ),
        "tags": list(PartnerTag.objects.filter(taggings__partner=partner).order_by("name")),
        "notes": list(PartnerNote.objects.filter(partner=partner).select_related("author")[:20]),
        "answers": selectors.application_answers(partner),
        "acceptances": list(
            TermsAcceptance.objects.filter(partner=partner).select_related("terms")[:5]
        ),
        "sees_money": sees_money,
        "manages": manages,
        "moves_groups": can(request, Perm.GROUPS_MANAGE) and not partner.is_erased,
        "sees_history": can(request, Perm.AUDIT_VIEW),
        "privacy": can(request, Perm.PARTNERS_PRIVACY),
    }
    if can(request, Perm.TRAINING_VIEW):
        # Completion per partner (per course is on the course's progress page).
        from partners.training.selectors import partner_courses

        context["courses"] = list(partner_courses(partner))
    if sees_money:
        from rewards.models import PayoutRequest
        from rewards.services import ledger

        context["balances"] = list(ledger.balances(partner).values())
        context["payouts"] = list(
            PayoutRequest.objects.filter(partner=partner).order_by("-created_at")[:RECENT]
        )
    if context["sees_history"]:
        history = selectors.partner_history(partner)
        context["history"] = Paginator(history, HISTORY_PAGE).get_page(request.GET.get("history"))
    if manages:
        context["note_form"] = forms.get("note_form") or NoteForm()
        context["tag_form"] = TagPickForm()
    if context["moves_groups"]:
        context["group_form"] = GroupMoveForm(initial={"group": partner.group_id})
    return render(request, "console/partners/detail.html", context)


@staff_required(Perm.PARTNERS_MANAGE)
@require_http_methods(["GET", "POST"])
def partner_edit(request: HttpRequest, partner_id: str) -> HttpResponse:
    partner = _partner(partner_id)
    if partner.is_erased:
        messages.error(request, _("This partner's personal data was erased."))
        return _back(partner)
    questions = list(SignupQuestion.objects.filter(is_active=True))
    form = ProfileForm(request.POST or None, partner=partner, questions=questions)
    if request.method == "POST" and form.is_valid():
        partner_update(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            partner=partner,
            changes=form.changes(),
            request=request,
        )
        messages.success(request, _("Partner %s updated.") % partner)
        return _back(partner)
    return render(request, "console/partners/edit.html", {"partner": partner, "form": form})


@staff_required(Perm.PARTNERS_MANAGE)
@require_http_methods(["GET", "POST"])
def partner_change_status(request: HttpRequest, partner_id: str) -> HttpResponse:
    """The confirmation page of blocking, unblocking, approving or rejecting, with a
    reason (required to block or reject)."""
    partner = _partner(partner_id)
    data = request.POST if request.method == "POST" else None
    initial = {"status": request.GET.get("to", PartnerProfile.Status.BLOCKED)}
    form = StatusChangeForm(data, initial=initial)
    if data is not None and form.is_valid():
        try:
            partner_set_status(
                tenant=request.tenant,  # type: ignore[attr-defined]
                actor=request.user,  # type: ignore[arg-type]
                partner=partner,
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Partner %s updated.") % partner)
            return _back(partner)
    target = form.data.get("status") if form.is_bound else initial["status"]
    if target not in PartnerProfile.Status.values:
        target = PartnerProfile.Status.BLOCKED
    return render(
        request,
        "console/partners/status.html",
        {"partner": partner, "form": form, "target": PartnerProfile.Status(target)},
    )


@staff_required(Perm.PARTNERS_MANAGE)
@post_only
def partner_note(request: HttpRequest, partner_id: str) -> HttpResponse:
    partner = _partner(partner_id)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _page(request, partner, note_form=form)
    note_add(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        partner=partner,
        body=form.cleaned_data["body"],
        request=request,
    )
    messages.success(request, _("Note added."))
    return _back(partner)


@staff_required(Perm.PARTNERS_MANAGE)
@post_only
def partner_tag(request: HttpRequest, partner_id: str) -> HttpResponse:
    """Add (or, with ``remove``, take away) one tag."""
    partner = _partner(partner_id)
    form = TagPickForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose the tag."))
        return _back(partner)
    write = tags_unassign if request.POST.get("remove") else tags_assign
    write(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        tag=form.cleaned_data["tag"],
        partners=[partner],
        request=request,
    )
    return _back(partner)


@staff_required(Perm.GROUPS_MANAGE)
@post_only
def partner_group(request: HttpRequest, partner_id: str) -> HttpResponse:
    partner = _partner(partner_id)
    form = GroupMoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a valid group."))
        return _back(partner)
    groups_move(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        group=form.cleaned_data["group"],
        partners=[partner],
        request=request,
    )
    messages.success(request, _("Partner %s updated.") % partner)
    return _back(partner)


@staff_required(Perm.PARTNERS_MANAGE)
@require_http_methods(["GET", "POST"])
def partner_new(request: HttpRequest) -> HttpResponse:
    form = PartnerAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            partner = partner_add(
                tenant=request.tenant,  # type: ignore[attr-defined]
                actor=request.user,  # type: ignore[arg-type]
                email=data["email"],
                display_name=data["display_name"],
                programs=data["programs"],
                group=data["group"],
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, _("Partner added; %s gets a link to set a password.") % data["email"]
            )
            return _back(partner)
    return render(request, "console/partners/new.html", {"form": form})


@staff_required(Perm.PARTNERS_MANAGE)
@require_http_methods(["GET", "POST"])
def partner_invite_page(request: HttpRequest) -> HttpResponse:
    """Invite one or many by e-mail; the pending invitations, to re-send or withdraw."""
    form = PartnerInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        sent, skipped = partner_invite(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            emails=data["emails"],
            program=data["program"],
            group=data["group"],
            request=request,
        )
        if sent:
            messages.success(request, _("Invitations sent: %d.") % len(sent))
        for reason in skipped:
            messages.warning(request, reason)
        return redirect("console:partner_invite")
    invitations = Paginator(
        PartnerInvitation.objects.filter(status=PartnerInvitation.Status.PENDING).select_related(
            "program"
        ),
        50,
    ).get_page(request.GET.get("page"))
    return render(request, "console/partners/invite.html", {"form": form, "page": invitations})


@staff_required(Perm.PARTNERS_MANAGE)
@post_only
def partner_invitation_resend_view(
    request: HttpRequest, partner_invitation_id: str
) -> HttpResponse:
    invitation = get_in_tenant_or_404(PartnerInvitation, pk=partner_invitation_id)
    try:
        partner_invitation_resend(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            invitation=invitation,
            request=request,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Invitation to %s sent again.") % invitation.email)
    return redirect("console:partner_invite")


@staff_required(Perm.PARTNERS_MANAGE)
@post_only
def partner_invitation_revoke_view(
    request: HttpRequest, partner_invitation_id: str
) -> HttpResponse:
    invitation = get_in_tenant_or_404(PartnerInvitation, pk=partner_invitation_id)
    try:
        partner_invitation_revoke(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            invitation=invitation,
            request=request,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Invitation to %s withdrawn.") % invitation.email)
    return redirect("console:partner_invite")
