"""The partner cabinet (home, joining) and the console's partner list."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from partners.access import partner_profile_in_tenant, partner_required
from partners.models import PartnerProfile
from partners.privacy import partner_data_export
from partners.selectors import partner_filters, partners_filtered
from partners.services import RECRUITER_SESSION_KEY, partner_join, partner_set_status
from prm.access import get_in_tenant_or_404, membership_in_tenant, staff_required
from prm.permissions import Perm
from prm.post_only import post_only

PAGE_SIZE = 50


def home(request: HttpRequest) -> HttpResponse:
    """``/`` of a tenant: the public welcome, or the partner's cabinet."""
    if not request.user.is_authenticated:
        return render(request, "cabinet/welcome.html")
    return cabinet(request)


@partner_required
def cabinet(request: HttpRequest) -> HttpResponse:
    return render(request, "cabinet/home.html", {"partner": request.partner})  # type: ignore[attr-defined]


@partner_required
@require_http_methods(["GET"])
def my_data(request: HttpRequest) -> HttpResponse:
    """The partner downloads their own personal data (README "Personal data")."""
    response = JsonResponse(
        partner_data_export(partner=request.partner),  # type: ignore[attr-defined]
        json_dumps_params={"ensure_ascii": False, "indent": 2},
    )
    response["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def join(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    if partner_profile_in_tenant(request) is not None:
        return redirect("partners:home")
    if request.method == "POST":
        partner_join(
            tenant=tenant,
            user=request.user,  # type: ignore[arg-type]
            recruiter_code=request.session.pop(RECRUITER_SESSION_KEY, ""),
        )
        messages.success(request, _("Welcome to the partner program of %s!") % tenant.name)
        return redirect("partners:home")
    return render(
        request,
        "cabinet/join.html",
        {"is_staff_member": membership_in_tenant(request) is not None},
    )


@staff_required(Perm.PARTNERS_VIEW)
def partner_list(request: HttpRequest) -> HttpResponse:
    filters = partner_filters(request.GET)
    partners = partners_filtered(**filters)
    page = Paginator(partners, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "console/partners.html",
        {"page": page, **filters, "statuses": PartnerProfile.Status.choices},
    )


@staff_required(Perm.PARTNERS_MANAGE)
@post_only
def partner_status(request: HttpRequest, partner_id: str) -> HttpResponse:
    partner = get_in_tenant_or_404(PartnerProfile, pk=partner_id)
    status = request.POST.get("status", "")
    if status not in PartnerProfile.Status.values:
        messages.error(request, _("Choose a valid status."))
        return redirect("console:partners")
    partner_set_status(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        partner=partner,
        status=status,
        request=request,
    )
    messages.success(request, _("Partner %s updated.") % partner)
    return redirect("console:partners")


@require_http_methods(["GET"])
def recruit(request: HttpRequest, code: str) -> HttpResponse:
    """A partner's recruit link: remember who invited, then sign up (or join)."""
    recruiter = get_in_tenant_or_404(
        PartnerProfile.objects.filter(status=PartnerProfile.Status.ACTIVE), recruit_code=code
    )
    request.session[RECRUITER_SESSION_KEY] = recruiter.recruit_code
    if request.user.is_authenticated:
        return redirect("partners:join")
    return redirect("account_signup")
