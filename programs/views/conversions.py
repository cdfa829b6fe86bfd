"""Console: conversions and the attribution trail that credited them."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from prm.access import get_in_tenant_or_404, staff_required
from prm.pagination import page_of
from prm.permissions import Perm
from prm.tenancy import require_tenant
from programs import selectors
from programs.analytics.drill import DrillForm
from programs.forms import ConversionFilterForm
from programs.models import Conversion

PAGE_SIZE = 50


def filtered_conversions(params: QueryDict) -> tuple[ConversionFilterForm, QuerySet[Conversion]]:
    """The conversion list's rows for its query string (the list and its export)."""
    filters = ConversionFilterForm(params)
    filters.is_valid()  # invalid filters are dropped (and shown), the rest still apply
    rows = selectors.conversions_filtered(**filters.cleaned_data)
    drill = DrillForm(params, tenant=require_tenant())
    return filters, drill.apply_conversions(rows)  # a report's figure, down to its rows


@staff_required(Perm.CONVERSIONS_VIEW)
def conversion_list(request: HttpRequest) -> HttpResponse:
    filters, conversions = filtered_conversions(request.GET)
    drill = DrillForm(request.GET, tenant=request.tenant)  # type: ignore[attr-defined]
    page = page_of(conversions, request, PAGE_SIZE)
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "console/conversions/list.html",
        {"page": page, "filters": filters, "query": params.urlencode(), "drill": drill},
    )


@staff_required(Perm.CONVERSIONS_VIEW)
def conversion_detail(request: HttpRequest, conversion_id: str) -> HttpResponse:
    conversion = get_in_tenant_or_404(
        Conversion.objects.select_related("program", "partner__user", "lead"), pk=conversion_id
    )
    return render(
        request,
        "console/conversions/detail.html",
        {
            "conversion": conversion,
            "refunds": conversion.refunds.order_by("created_at"),
            "trail": conversion.attribution,
        },
    )
