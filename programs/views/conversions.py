"""Console: conversions and the attribution trail that credited them."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from prm.access import get_in_tenant_or_404, staff_required
from prm.pagination import page_of
from prm.permissions import Perm
from programs import selectors
from programs.analytics.drill import DrillForm
from programs.forms import ConversionFilterForm
from programs.models import Conversion

PAGE_SIZE = 50


@staff_required(Perm.CONVERSIONS_VIEW)
def conversion_list(request: HttpRequest) -> HttpResponse:
    filters = ConversionFilterForm(request.GET)
    filters.is_valid()  # invalid filters are dropped (and shown), the rest still apply
    conversions = selectors.conversions_filtered(**filters.cleaned_data)
    drill = DrillForm(request.GET, tenant=request.tenant)  # type: ignore[attr-defined]
    conversions = drill.apply_conversions(conversions)  # a report's figure, down to its rows
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
