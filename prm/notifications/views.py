"""The notification pages: a partner's and a staff member's own settings, the outbox
for admins, and the public unsubscribe link."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from partners.access import partner_required
from partners.models import PartnerProfile
from prm.access import request_tenant, staff_required
from prm.models import Membership, User
from prm.notifications.forms import OutboxFilterForm, PreferencesForm
from prm.notifications.kinds import PARTNER_KINDS, SPECS, Kind, staff_kinds_for
from prm.notifications.models import Notification
from prm.notifications.services import preference_for, preference_mute, preference_save
from prm.notifications.tokens import unsubscribe_read
from prm.permissions import Perm

PAGE_SIZE = 50


def _preferences(request: HttpRequest, kinds: list[Kind], template: str, back: str) -> HttpResponse:
    tenant = request_tenant(request)
    pref = preference_for(tenant=tenant, user=request.user)
    if request.method == "POST":
        form = PreferencesForm(request.POST, kinds=kinds, muted=pref.muted)
        if form.is_valid():
            preference_save(
                tenant=tenant,
                user=request.user,
                muted=form.muted(),
                language=form.cleaned_data["language"],
                allowed=kinds,
            )
            messages.success(request, _("Your notification settings are saved."))
            return redirect(back)
    else:
        form = PreferencesForm(kinds=kinds, muted=pref.muted, initial={"language": pref.language})
    return render(request, template, {"form": form})


@partner_required
@require_http_methods(["GET", "POST"])
def partner_preferences(request: HttpRequest) -> HttpResponse:
    return _preferences(
        request, PARTNER_KINDS, "cabinet/notifications.html", "partners:notifications"
    )


@staff_required(Perm.CONSOLE_VIEW)
@require_http_methods(["GET", "POST"])
def staff_preferences(request: HttpRequest) -> HttpResponse:
    kinds = staff_kinds_for(request.membership.role)  # type: ignore[attr-defined]
    return _preferences(
        request, kinds, "console/notifications/preferences.html", "console:my_notifications"
    )


@staff_required(Perm.SETTINGS_MANAGE)
@require_http_methods(["GET"])
def outbox(request: HttpRequest) -> HttpResponse:
    filters = OutboxFilterForm(request.GET)
    rows = Notification.objects.select_related("recipient").order_by("-created_at", "pk")
    if filters.is_valid():
        if filters.cleaned_data["status"]:
            rows = rows.filter(status=filters.cleaned_data["status"])
        if filters.cleaned_data["kind"]:
            rows = rows.filter(kind=filters.cleaned_data["kind"])
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "console/notifications/outbox.html",
        {"page": page, "form": filters, "query": params.urlencode()},
    )


@csrf_exempt  # the token is the credential; mail clients POST here (RFC 8058) with no cookie
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """Turn one kind off for the person the signed token names, without sign-in. GET
    asks (link scanners open links), POST does it."""
    tenant = request_tenant(request)
    found = unsubscribe_read(token)
    if found is None or found.tenant_id != str(tenant.pk):
        raise Http404("unknown or altered link")
    user = User.objects.filter(pk=found.user_id, is_active=True).first()
    audience_ok = user is not None and (
        PartnerProfile.objects.filter(user=user).exists()
        if SPECS[found.kind].audience == "partner"
        else Membership.objects.filter(user=user).exists()
    )
    if not audience_ok:
        raise Http404("nobody to unsubscribe here")
    kind = Kind(found.kind)
    done = False
    if request.method == "POST":
        preference_mute(tenant=tenant, user=user, kind=kind)
        done = True
    return render(
        request,
        "notifications/unsubscribe.html",
        {"kind": kind, "done": done, "email": user.email},  # type: ignore[union-attr]
    )
