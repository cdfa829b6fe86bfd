"""Cabinet: the partner's programs, referral links, promo codes, deals and stats."""

from __future__ import annotations

import functools
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from partners.access import partner_profile_in_tenant, partner_required
from partners.models import PartnerProfile
from partners.training.gates import courses_to_pass_by_program
from prm.access import get_in_tenant_or_404
from prm.post_only import post_only
from programs import links, selectors
from programs.analytics.partner_stats import partner_stats
from programs.analytics.periods import period_from
from programs.analytics.refresh import local_day
from programs.forms import CodeForm, DealForm, LinkBuilderForm
from programs.models import Enrollment, Lead, PromoCode
from programs.services.enrollments import enrollment_create, promo_code_create
from programs.services.leads import LeadInput, lead_create


def partner_page(view: Any) -> Any:
    """``partner_required``, except that a signed-in user who is no partner here gets a
    404, as outsiders do in the console (the cabinet home still offers them to join)."""
    guarded = partner_required(view)

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and partner_profile_in_tenant(request) is None:
            raise Http404("not a partner of this workspace")
        return guarded(request, *args, **kwargs)

    return wrapper


def active_partner_required(view: Any) -> Any:
    """Programs and links are for active partners; others see why they cannot."""

    @partner_page
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        partner = request.partner  # type: ignore[attr-defined]
        if partner.status != PartnerProfile.Status.ACTIVE:
            return render(
                request,
                "cabinet/programs/inactive.html",
                {"partner": partner},
                status=200 if request.method == "GET" else 403,
            )
        return view(request, *args, **kwargs)

    return wrapper


@active_partner_required
def program_list(request: HttpRequest) -> HttpResponse:
    partner = request.partner  # type: ignore[attr-defined]
    # A program that requires a course shows the course to pass instead of "Join".
    first = courses_to_pass_by_program(partner)
    programs = list(selectors.open_programs(partner))
    for program in programs:
        program.courses_first = first.get(str(program.pk), [])  # type: ignore[attr-defined]
    context = {
        "enrollments": Enrollment.objects.filter(partner=partner)
        .select_related("program")
        .order_by("program__name"),
        "open_programs": programs,
    }
    return render(request, "cabinet/programs/list.html", context)


@active_partner_required
@post_only
def program_join(request: HttpRequest, program_id: str) -> HttpResponse:
    partner = request.partner  # type: ignore[attr-defined]
    program = get_in_tenant_or_404(selectors.joinable_programs(), pk=program_id)
    try:
        enrollment = enrollment_create(
            tenant=request.tenant,  # type: ignore[attr-defined]
            program=program,
            partner=partner,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("partners:programs")
    if enrollment.status == Enrollment.Status.PENDING:
        messages.info(request, _("Your request to join %s is waiting for approval.") % program)
    else:
        messages.success(request, _("You joined %s.") % program)
    return redirect("partners:enrollment", enrollment_id=enrollment.pk)


def _own_enrollment(request: HttpRequest, enrollment_id: str) -> Enrollment:
    """The partner's own enrollment; anyone else's is a 404."""
    own = Enrollment.objects.filter(partner=request.partner).select_related("program")  # type: ignore[attr-defined]
    return get_in_tenant_or_404(own, pk=enrollment_id)


@active_partner_required
def enrollment_detail(request: HttpRequest, enrollment_id: str) -> HttpResponse:
    return _enrollment_page(request, _own_enrollment(request, enrollment_id))


def _enrollment_page(
    request: HttpRequest,
    enrollment: Enrollment,
    code_form: CodeForm | None = None,
    deal_form: DealForm | None = None,
) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    program = enrollment.program
    context: dict[str, Any] = {"enrollment": enrollment, "program": program}
    if enrollment.status == Enrollment.Status.ACTIVE:
        builder = LinkBuilderForm(
            request.GET if "to" in request.GET else None,
            program=program,
            initial={"to": program.default_landing_url},
        )
        built = None
        if builder.is_valid():
            choice = builder.cleaned_data
            built = {
                "direct": links.referral_link(program, enrollment.code, **choice),
                "platform": links.platform_link(tenant, program, enrollment.code, **choice),
            }
        context.update(
            referral_link=links.referral_link(program, enrollment.code),
            platform_link=links.platform_link(tenant, program, enrollment.code),
            builder=builder,
            built=built,
            promo_codes=PromoCode.objects.filter(
                program=program,
                partner=request.partner,  # type: ignore[attr-defined]
            ),
            code_form=code_form or CodeForm(),
            deal_form=deal_form or DealForm(),
        )
    return render(request, "cabinet/programs/detail.html", context)


@active_partner_required
@post_only
def promo_code_add(request: HttpRequest, enrollment_id: str) -> HttpResponse:
    enrollment = _own_enrollment(request, enrollment_id)
    if enrollment.status != Enrollment.Status.ACTIVE:
        messages.error(request, _("Your enrollment in this program is not active."))
        return redirect("partners:enrollment", enrollment_id=enrollment.pk)
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            promo = promo_code_create(
                tenant=request.tenant,  # type: ignore[attr-defined]
                program=enrollment.program,
                partner=request.partner,  # type: ignore[attr-defined]
                code=form.cleaned_data["code"],
            )
        except ValidationError as exc:
            form.add_error("code", exc)
        else:
            messages.success(request, _("Promo code %s created.") % promo.code)
            return redirect("partners:enrollment", enrollment_id=enrollment.pk)
    return _enrollment_page(request, enrollment, code_form=form)


@active_partner_required
@post_only
def deal_register(request: HttpRequest, enrollment_id: str) -> HttpResponse:
    enrollment = _own_enrollment(request, enrollment_id)
    if enrollment.status != Enrollment.Status.ACTIVE:
        messages.error(request, _("Your enrollment in this program is not active."))
        return redirect("partners:enrollment", enrollment_id=enrollment.pk)
    form = DealForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            lead = lead_create(
                tenant=request.tenant,  # type: ignore[attr-defined]
                program=enrollment.program,
                source=Lead.Source.CABINET,
                partner=request.partner,  # type: ignore[attr-defined]
                actor=request.user,  # type: ignore[arg-type]
                data=LeadInput(
                    name=data["name"],
                    company=data["company"],
                    email=data["email"],
                    phone=data["phone"],
                ),
            )
        except ValidationError as exc:
            form.add_error(exc.code if exc.code in {"email", "phone"} else None, exc)
        else:
            if lead.is_duplicate:
                messages.warning(
                    request,
                    _("This customer was already brought in: the deal is recorded as a duplicate."),
                )
            else:
                messages.success(request, _("Deal registered."))
            return redirect("partners:enrollment", enrollment_id=enrollment.pk)
    return _enrollment_page(request, enrollment, deal_form=form)


@partner_page
def stats(request: HttpRequest) -> HttpResponse:
    """The partner's own figures over a period, from the rollups; their leads masked."""
    partner = request.partner  # type: ignore[attr-defined]
    tenant = request.tenant  # type: ignore[attr-defined]
    period, form = period_from(request.GET, local_day(tenant, timezone.now()))
    context = {
        "partner": partner,
        "form": form,
        "period": period,
        "keep": [],
        **partner_stats(tenant, partner, period, leads_page=request.GET.get("page")),
    }
    params = request.GET.copy()
    params.pop("page", None)
    context["query"] = params.urlencode()
    from partners.materials.services import partner_clicks_by_material

    context["material_clicks"] = partner_clicks_by_material(
        tenant, partner, period.start, period.end
    )
    return render(request, "cabinet/stats.html", context)
