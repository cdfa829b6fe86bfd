"""Console: leads (list, search, bulk actions, the lead page and its writes)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from prm.access import can, get_in_tenant_or_404, staff_required
from prm.pagination import page_of
from prm.permissions import Perm
from prm.post_only import post_only
from prm.redirects import next_or
from prm.tenancy import require_tenant
from programs import selectors
from programs.analytics.drill import DrillForm
from programs.forms import (
    LeadAssignForm,
    LeadBulkForm,
    LeadFilterForm,
    LeadForm,
    LeadNoteForm,
    LeadStatusForm,
    lead_managers,
)
from programs.models import Lead, LeadEvent
from programs.services import leads as lead_services
from programs.services.leads import LeadInput

PAGE_SIZE = 50
# Which form field a service error belongs to (ValidationError codes of lead_create).
ERROR_FIELDS = {"email": "email", "phone": "phone", "partner": "partner", "program": "program"}
SORTABLE = ["name", "status", "created_at"]
SEARCH_COUNT_CAP = 10_000


def add_service_error(form: LeadForm, exc: ValidationError) -> None:
    form.add_error(ERROR_FIELDS.get(exc.code or ""), exc)  # type: ignore[arg-type]


def filtered_leads(params: QueryDict) -> tuple[LeadFilterForm, QuerySet[Lead]]:
    """The lead list's rows for its query string (the list and its export)."""
    filters = LeadFilterForm(params)
    filters.is_valid()  # invalid filters are dropped (and shown), the rest still apply
    rows = selectors.leads_filtered(**filters.cleaned_data)
    drill = DrillForm(params, tenant=require_tenant())
    return filters, drill.apply_leads(rows)  # a report's figure, down to its rows


@staff_required(Perm.LEADS_VIEW)
def lead_list(request: HttpRequest) -> HttpResponse:
    filters, leads = filtered_leads(request.GET)
    drill = DrillForm(request.GET, tenant=request.tenant)  # type: ignore[attr-defined]
    # A short search word may match nearly every lead: count up to a cap, not them all.
    cap = SEARCH_COUNT_CAP if filters.cleaned_data.get("q") else None
    page = page_of(leads, request, PAGE_SIZE, count_cap=cap)
    params = request.GET.copy()
    for name in ("page", "page_after", "page_before"):  # a new sort starts at page 1
        params.pop(name, None)
    sort = filters.cleaned_data.get("sort", "-created_at")
    sort_params = params.copy()
    sort_links = {}
    for field in SORTABLE:
        sort_params["sort"] = f"-{field}" if sort == field else field
        sort_links[field] = sort_params.urlencode()
    can_write = can(request, Perm.LEADS_MANAGE)
    context = {
        "page": page,
        "filters": filters,
        "drill": drill,
        "query": params.urlencode(),
        "sort": sort,
        "sort_links": sort_links,
        "can_write": can_write,
        "bulk_form": LeadBulkForm() if can_write else None,
        "managers": list(lead_managers()),
    }
    return render(request, "console/leads/list.html", context)


@staff_required(Perm.LEADS_MANAGE)
@post_only
def leads_bulk(request: HttpRequest) -> HttpResponse:
    form = LeadBulkForm(request.POST)
    back = next_or(request, reverse("console:leads"), within=reverse("console:leads"))
    if not form.is_valid():
        errors = [str(e) for field in form.errors.values() for e in field]
        messages.error(request, _("Nothing changed: %s") % " ".join(errors))
        return redirect(back)
    data = form.cleaned_data
    count = lead_services.leads_bulk_update(
        tenant=request.tenant,  # type: ignore[attr-defined]
        leads=list(data["leads"]),
        actor=request.user,  # type: ignore[arg-type]
        status=data["status"] if data["action"] == "status" else "",
        manager=data["manager"] if data["action"] == "assign" else None,
        assign=data["action"] in {"assign", "unassign"},
    )
    messages.success(
        request,
        ngettext("%(n)d lead updated.", "%(n)d leads updated.", count) % {"n": count},
    )
    return redirect(back)


@require_http_methods(["GET", "POST"])
@staff_required(Perm.LEADS_MANAGE)
def lead_create(request: HttpRequest) -> HttpResponse:
    form = LeadForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            lead = lead_services.lead_create(
                tenant=request.tenant,  # type: ignore[attr-defined]
                program=data["program"],
                source=Lead.Source.CONSOLE,
                partner=data["partner"],
                actor=request.user,  # type: ignore[arg-type]
                data=LeadInput(
                    name=data["name"],
                    email=data["email"],
                    phone=data["phone"],
                    company=data["company"],
                    external_id=data["external_id"],
                ),
            )
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            if lead.is_duplicate:
                messages.warning(request, _("Lead added as a duplicate of an earlier lead."))
            else:
                messages.success(request, _("Lead added."))
            return redirect("console:lead_detail", lead_id=lead.pk)
    return render(request, "console/leads/form.html", {"form": form})


def _lead(lead_id: str) -> Lead:
    return get_in_tenant_or_404(
        Lead.objects.select_related(
            "program", "partner__user", "assigned_to__user", "duplicate_of"
        ),
        pk=lead_id,
    )


@staff_required(Perm.LEADS_VIEW)
def lead_detail(request: HttpRequest, lead_id: str) -> HttpResponse:
    return _lead_page(request, _lead(lead_id))


def _lead_page(
    request: HttpRequest,
    lead: Lead,
    status_form: LeadStatusForm | None = None,
    assign_form: LeadAssignForm | None = None,
    note_form: LeadNoteForm | None = None,
) -> HttpResponse:
    can_write = can(request, Perm.LEADS_MANAGE)
    context = {
        "lead": lead,
        "events": LeadEvent.objects.filter(lead=lead).select_related("actor"),
        "duplicates": lead.duplicates.select_related("program").order_by("created_at"),
        "conversions": lead.conversions.order_by("-occurred_at"),
        "trail": lead.attribution,
        "can_write": can_write,
    }
    if can_write:
        context.update(
            status_form=status_form or LeadStatusForm(initial={"status": lead.status}),
            assign_form=assign_form or LeadAssignForm(initial={"manager": lead.assigned_to_id}),
            note_form=note_form or LeadNoteForm(),
        )
    return render(request, "console/leads/detail.html", context)


@staff_required(Perm.LEADS_MANAGE)
@post_only
def lead_status(request: HttpRequest, lead_id: str) -> HttpResponse:
    lead = _lead(lead_id)
    form = LeadStatusForm(request.POST)
    if not form.is_valid():
        return _lead_page(request, lead, status_form=form)
    lead_services.lead_set_status(
        tenant=request.tenant,  # type: ignore[attr-defined]
        lead=lead,
        status=form.cleaned_data["status"],
        actor=request.user,  # type: ignore[arg-type]
    )
    messages.success(request, _("Status changed."))
    return redirect("console:lead_detail", lead_id=lead.pk)


@staff_required(Perm.LEADS_MANAGE)
@post_only
def lead_assign(request: HttpRequest, lead_id: str) -> HttpResponse:
    lead = _lead(lead_id)
    form = LeadAssignForm(request.POST)
    if not form.is_valid():
        return _lead_page(request, lead, assign_form=form)
    manager = form.cleaned_data["manager"]
    lead_services.lead_assign(
        tenant=request.tenant,  # type: ignore[attr-defined]
        lead=lead,
        manager=manager,
        actor=request.user,  # type: ignore[arg-type]
    )
    if manager is None:
        messages.success(request, _("The lead is unassigned."))
    else:
        messages.success(request, _("Assigned to %s.") % manager.user.display_name)
    return redirect("console:lead_detail", lead_id=lead.pk)


@staff_required(Perm.LEADS_MANAGE)
@post_only
def lead_note(request: HttpRequest, lead_id: str) -> HttpResponse:
    lead = _lead(lead_id)
    form = LeadNoteForm(request.POST)
    if not form.is_valid():
        return _lead_page(request, lead, note_form=form)
    lead_services.lead_add_note(
        tenant=request.tenant,  # type: ignore[attr-defined]
        lead=lead,
        text=form.cleaned_data["text"],
        actor=request.user,  # type: ignore[arg-type]
    )
    messages.success(request, _("Note added."))
    return redirect("console:lead_detail", lead_id=lead.pk)
