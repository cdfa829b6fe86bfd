"""The partner cabinet (home, joining) and the console's partner list."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from partners.access import partner_profile_in_tenant, partner_required
from partners.forms import PartnerEraseForm
from partners.forms_people import BulkForm
from partners.home import home_context
from partners.models import PartnerProfile, PartnerTag
from partners.offers import public_offers
from partners.privacy import (
    partner_data_export,
    partner_data_export_by_staff,
    partner_erase,
    partner_erase_preview,
)
from partners.search import partner_search as search_partners
from partners.search import partners_for_choice, partners_in_program
from partners.selectors import partner_filters, partners_filtered
from partners.services import RECRUITER_SESSION_KEY, partner_join, partner_set_status
from prm.access import can, get_in_tenant_or_404, membership_in_tenant, staff_required
from prm.pagination import page_of
from prm.permissions import Perm
from prm.post_only import post_only
from programs.models import Program
from rewards.models import PartnerGroup

PAGE_SIZE = 50
# The risk column's sort: unscored partners last either way.
RISK_SORTS = {
    "-risk": F("risk_score").desc(nulls_last=True),
    "risk": F("risk_score").asc(nulls_last=True),
}


def home(request: HttpRequest) -> HttpResponse:
    """``/`` of a tenant: the public welcome, or the partner's cabinet."""
    if not request.user.is_authenticated:
        return render(request, "cabinet/welcome.html", {"offers": public_offers()})
    return cabinet(request)


@partner_required
def cabinet(request: HttpRequest) -> HttpResponse:
    from partners.views_signup import application_pending

    partner = request.partner  # type: ignore[attr-defined]
    pending = application_pending(partner)
    if partner.status != PartnerProfile.Status.ACTIVE:
        context = {"partner": partner, "application_pending": pending}
        return render(request, "cabinet/home.html", context)
    urls = {
        "programs": reverse("partners:programs"),
        "payouts": reverse("partners:payouts"),
        "stats": reverse("partners:stats"),
    }
    context = home_context(request.tenant, partner, urls)  # type: ignore[attr-defined]
    context["application_pending"] = pending
    return render(request, "cabinet/home.html", context)


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
        from partners.views_signup import application_pending

        profile = partner_join(
            tenant=tenant,
            user=request.user,  # type: ignore[arg-type]
            recruiter_code=request.session.pop(RECRUITER_SESSION_KEY, ""),
        )
        messages.success(request, _("Welcome to the partner program of %s!") % tenant.name)
        if application_pending(profile):  # the tenant's questions and terms come next
            return redirect("partners:application")
        return redirect("partners:home")
    return render(
        request,
        "cabinet/join.html",
        {"is_staff_member": membership_in_tenant(request) is not None, "offers": public_offers()},
    )


@staff_required(Perm.PARTNERS_VIEW)
def partner_list(request: HttpRequest) -> HttpResponse:
    filters = partner_filters(request.GET)
    partners = partners_filtered(**filters)  # type: ignore[arg-type]
    sort = request.GET.get("sort", "")
    if sort in RISK_SORTS:
        # An expression: numbered pages (the keyset cursor holds plain columns only).
        partners = partners.order_by(RISK_SORTS[sort], "-created_at", "-pk")
    page = page_of(partners, request, PAGE_SIZE)
    params = request.GET.copy()
    for name in ("page", "page_after", "page_before"):
        params.pop(name, None)
    sort_params = params.copy()
    sort_params["sort"] = "risk" if sort == "-risk" else "-risk"
    return render(
        request,
        "console/partners.html",
        {
            "page": page,
            **filters,
            "sort": sort,
            "query": params.urlencode(),
            "risk_sort_query": sort_params.urlencode(),
            "statuses": PartnerProfile.Status.choices,
            "tags": list(PartnerTag.objects.order_by("name")[:200]),
            "groups": list(PartnerGroup.objects.order_by("name")[:200]),
            "bulk_form": BulkForm(may_move=can(request, Perm.GROUPS_MANAGE))
            if can(request, Perm.PARTNERS_MANAGE)
            else None,
            "back": request.get_full_path(),
        },
    )


@require_http_methods(["GET"])
@staff_required(Perm.PARTNERS_VIEW)
def partner_search(request: HttpRequest) -> JsonResponse:
    """``?q=``: up to 20 partners matching a name, e-mail or company, for the partner
    fields of console forms and filters; ``&program=<id>`` keeps the program's partners
    (``&enrolled=active``: only active enrollments), as the form receiving it does."""
    partners = partners_for_choice()
    program_id = request.GET.get("program", "")
    if program_id:
        program = get_in_tenant_or_404(Program, pk=program_id)
        active_only = request.GET.get("enrolled") == "active"
        partners = partners_in_program(program, active_only=active_only)
    return JsonResponse({"results": search_partners(partners, request.GET.get("q", ""))})


@staff_required(Perm.PARTNERS_MANAGE)
@post_only
def partner_status(request: HttpRequest, partner_id: str) -> HttpResponse:
    partner = get_in_tenant_or_404(PartnerProfile, pk=partner_id)
    status = request.POST.get("status", "")
    if status not in PartnerProfile.Status.values:
        messages.error(request, _("Choose a valid status."))
        return redirect("console:partners")
    try:
        partner_set_status(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            partner=partner,
            status=status,
            request=request,
            reason=request.POST.get("reason", "")[:300],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("console:partners")
    messages.success(request, _("Partner %s updated.") % partner)
    return redirect("console:partners")


@staff_required(Perm.PARTNERS_PRIVACY)
@require_http_methods(["GET"])
def partner_data(request: HttpRequest, partner_id: str) -> HttpResponse:
    """A partner's personal data for staff answering their request (README "Personal
    data"): the same JSON the partner downloads, audited."""
    partner = get_in_tenant_or_404(PartnerProfile.objects.select_related("user"), pk=partner_id)
    data = partner_data_export_by_staff(
        partner=partner,
        actor=request.user,  # type: ignore[arg-type]
        request=request,
    )
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False, "indent": 2})
    # The file name carries the opaque id, not the e-mail: downloads folders leak.
    response["Content-Disposition"] = f'attachment; filename="partner-{partner.pk}.json"'
    return response


@staff_required(Perm.PARTNERS_PRIVACY)
@require_http_methods(["GET", "POST"])
def partner_erase_page(request: HttpRequest, partner_id: str) -> HttpResponse:
    """What erasing a partner wipes and keeps; the person confirms with their e-mail."""
    partner = get_in_tenant_or_404(PartnerProfile.objects.select_related("user"), pk=partner_id)
    if partner.is_erased and request.method == "POST":
        messages.info(request, _("This partner's personal data was already erased."))
        return redirect("console:partners")
    form = PartnerEraseForm(partner, data=request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            partner_erase(
                partner=partner,
                actor=request.user,  # type: ignore[arg-type]
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                _("The partner's personal data was erased; their ledger and payouts are kept."),
            )
            return redirect("console:partners")
    return render(
        request,
        "console/partner_erase.html",
        {"partner": partner, "form": form, "preview": partner_erase_preview(partner)},
    )


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
