"""Console: programs, their enrollments and promo codes."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prm.access import can, get_in_tenant_or_404, staff_required
from prm.pagination import page_of
from prm.permissions import Perm
from prm.post_only import post_only
from programs import selectors
from programs.forms import EnrollForm, EnrollmentStatusForm, ProgramForm, PromoCodeForm
from programs.models import Enrollment, Program
from programs.services.attribution import PRECEDENCE
from programs.services.enrollments import (
    enrollment_create,
    enrollment_set_status,
    promo_code_create,
)
from programs.services.programs import program_save


@staff_required(Perm.PROGRAMS_VIEW)
def program_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "console/programs/list.html",
        {"programs": selectors.programs_with_counts()},
    )


@require_http_methods(["GET", "POST"])
@staff_required(Perm.PROGRAMS_MANAGE)
def program_create(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    form = ProgramForm(
        request.POST or None, instance=Program(), initial={"currency": tenant.default_currency}
    )
    if request.method == "POST" and form.is_valid():
        program = program_save(
            tenant=tenant,
            actor=request.user,  # type: ignore[arg-type]
            program=Program(),
            changes=form.cleaned_data,
            request=request,
        )
        messages.success(request, _("Program %s created.") % program.name)
        return redirect("console:program_detail", program_id=program.pk)
    return render(request, "console/programs/form.html", {"form": form, "program": None})


@require_http_methods(["GET", "POST"])
@staff_required(Perm.PROGRAMS_MANAGE)
def program_edit(request: HttpRequest, program_id: str) -> HttpResponse:
    program = get_in_tenant_or_404(Program, pk=program_id)
    if request.method == "GET":
        form = ProgramForm(instance=program)
    else:
        # The form validates a blank copy: on errors the page still shows the saved program.
        form = ProgramForm(request.POST, instance=Program(pk=program.pk))
        if form.is_valid():
            program_save(
                tenant=request.tenant,  # type: ignore[attr-defined]
                actor=request.user,  # type: ignore[arg-type]
                program=program,
                changes=form.cleaned_data,
                request=request,
            )
            messages.success(request, _("Program %s saved.") % program.name)
            return redirect("console:program_detail", program_id=program.pk)
    return render(request, "console/programs/form.html", {"form": form, "program": program})


@staff_required(Perm.PROGRAMS_VIEW)
def program_detail(request: HttpRequest, program_id: str) -> HttpResponse:
    program = get_in_tenant_or_404(Program, pk=program_id)
    return _program_page(request, program)


PAGE_SIZE = 50


def _query_without(request: HttpRequest, param: str) -> str:
    params = request.GET.copy()
    params.pop(param, None)
    return params.urlencode()


def _program_page(
    request: HttpRequest,
    program: Program,
    enroll_form: EnrollForm | None = None,
    promo_form: PromoCodeForm | None = None,
) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    manages = can(request, Perm.ENROLLMENTS_MANAGE)
    enrollments = page_of(selectors.program_enrollments(program), request, PAGE_SIZE)
    selectors.with_activity_counts(program, enrollments.object_list)  # type: ignore[arg-type]
    promo_codes = program.promo_codes.select_related("partner__user").order_by("-created_at", "-pk")
    context = {
        "program": program,
        "snippet_url": program.snippet_url(tenant.base_url),
        "page": enrollments,
        "query": _query_without(request, "page"),
        "promo_page": page_of(promo_codes, request, PAGE_SIZE, param="promo_page"),
        "promo_query": _query_without(request, "promo_page"),
        "can_manage": manages,
        "enroll_form": (enroll_form or EnrollForm()) if manages else None,
        "promo_form": (promo_form or PromoCodeForm(program=program)) if manages else None,
        "precedence": PRECEDENCE,
    }
    return render(request, "console/programs/detail.html", context)


@staff_required(Perm.ENROLLMENTS_MANAGE)
@post_only
def program_enroll(request: HttpRequest, program_id: str) -> HttpResponse:
    program = get_in_tenant_or_404(Program, pk=program_id)
    form = EnrollForm(request.POST)
    if form.is_valid():
        partner = form.cleaned_data["partner"]
        try:
            enrollment = enrollment_create(
                tenant=request.tenant,  # type: ignore[attr-defined]
                program=program,
                partner=partner,
                code=form.cleaned_data["code"],
                by_staff=True,
                actor=request.user,  # type: ignore[arg-type]
            )
        except ValidationError as exc:
            form.add_error("code", exc)
        else:
            messages.success(
                request,
                _("%(partner)s is enrolled with the code %(code)s.")
                % {"partner": partner, "code": enrollment.code},
            )
            return redirect("console:program_detail", program_id=program.pk)
    return _program_page(request, program, enroll_form=form)


@staff_required(Perm.ENROLLMENTS_MANAGE)
@post_only
def enrollment_status(request: HttpRequest, enrollment_id: str) -> HttpResponse:
    enrollment = get_in_tenant_or_404(
        Enrollment.objects.select_related("partner__user"), pk=enrollment_id
    )
    form = EnrollmentStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a valid status."))
    else:
        enrollment_set_status(
            tenant=request.tenant,  # type: ignore[attr-defined]
            enrollment=enrollment,
            status=form.cleaned_data["status"],
            actor=request.user,  # type: ignore[arg-type]
            request=request,
        )
        messages.success(
            request,
            _("%(partner)s: %(status)s.")
            % {"partner": enrollment.partner, "status": enrollment.get_status_display()},
        )
    return redirect("console:program_detail", program_id=enrollment.program_id)


@staff_required(Perm.ENROLLMENTS_MANAGE)
@post_only
def promo_code_add(request: HttpRequest, program_id: str) -> HttpResponse:
    program = get_in_tenant_or_404(Program, pk=program_id)
    form = PromoCodeForm(request.POST, program=program)
    if form.is_valid():
        try:
            promo = promo_code_create(
                tenant=request.tenant,  # type: ignore[attr-defined]
                program=program,
                partner=form.cleaned_data["partner"],
                code=form.cleaned_data["code"],
                actor=request.user,  # type: ignore[arg-type]
            )
        except ValidationError as exc:
            form.add_error("code", exc)
        else:
            messages.success(request, _("Promo code %s created.") % promo.code)
            return redirect("console:program_detail", program_id=program.pk)
    return _program_page(request, program, promo_form=form)
