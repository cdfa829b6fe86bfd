"""Console: conversions and the attribution trail that credited them."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from prm.access import get_in_tenant_or_404, staff_required
from prm.permissions import Perm
from programs import selectors
from programs.forms import ConversionFilterForm
from programs.models import Conversion

PAGE_SIZE = 50


def filtered_conversions(params: QueryDict) -> tuple[ConversionFilterForm, QuerySet[Conversion]]:
    """The conversion list's rows for its query string (the list and its export)."""
    filters = ConversionFilterForm(params)
    filters.is_valid()  # invalid filters are dropped (and shown), the rest still apply
    return filters, selectors.conversions_filtered(**filters.cleaned_data)


@staff_required(Perm.CONVERSIONS_VIEW)
def conversion_list(request: HttpRequest) -> HttpResponse:
    filters, conversions = filtered_conversions(request.GET)
    page = Paginator(conversions, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "console/conversions/list.html",
        {"page": page, "filters": filters, "query": params.urlencode()},
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
