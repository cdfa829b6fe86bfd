"""Console: reports by partner, program, channel, lead quality and period (rollups only)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from prm.access import can, staff_required
from prm.permissions import Perm
from programs.analytics.periods import with_default
from programs.analytics.refresh import local_day
from programs.analytics.reports import (
    COLUMN_LABELS,
    GROUP_LABELS,
    RATES,
    REPORTS,
    ReportFilterForm,
    cells,
    drill_links,
    report_rows,
)


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, min(int(request.GET.get("page") or 1), 10_000))
    except ValueError:
        return 1


def _report(request: HttpRequest, kind: str) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    form = ReportFilterForm(with_default(request.GET))
    money = can(request, Perm.MONEY_VIEW)
    page = report_rows(
        tenant,
        kind,
        form,
        local_day(tenant, timezone.now()),
        money=money,
        page=_page_number(request),
    )
    for row in page.rows:
        row["cells"] = cells(page, row, drill_links(page, row["k"]))
    page.totals["money"] = page.money_totals
    missing = [code for code in page.rates.missing if code in page.money_totals]
    total_cells = cells(page, page.totals, drill_links(page, None))
    params = request.GET.copy()
    params.pop("page", None)
    keep = [(k, v) for k, v in params.items() if k in ("by", "program", "partner", "sort")]
    chart = {
        "labels": [row["label"] for row in page.rows],
        "names": {c: str(COLUMN_LABELS[c]) for c in ("clicks", "leads", "conversions")},
        **{c: [int(row[c]) for row in page.rows] for c in ("clicks", "leads", "conversions")},
    }
    if kind == "quality":
        chart["names"] = {
            c: str(COLUMN_LABELS[c]) for c in ("leads", "leads_converted", "leads_rejected")
        }
        chart.update(
            {c: [int(row[c]) for row in page.rows] for c in ("leads_converted", "leads_rejected")}
        )
    context: dict[str, Any] = {
        "kind": kind,
        "reports": REPORTS,
        "page": page,
        "form": form,
        "period": page.period,
        "keep": keep,
        "columns": [(c, COLUMN_LABELS[c], c in RATES) for c in page.columns],
        "group_label": GROUP_LABELS[page.group],
        "groups": [(g, GROUP_LABELS[g]) for g in page.report.groups],
        "total_cells": total_cells,
        "query": params.urlencode(),
        "chart": chart,
        "chart_series": "leads,leads_converted,leads_rejected"
        if kind == "quality"
        else "clicks,leads,conversions",
        "chart_kind": "line" if kind == "periods" else "bar",
        "show_money": money,
        "missing_rates": missing,
        "export_name": f"console:report_{kind}_export",
        "schedule_source": f"report_{kind}",
    }
    return render(request, "console/reports/report.html", context)


@staff_required(Perm.REPORTS_VIEW)
def report_partners(request: HttpRequest) -> HttpResponse:
    return _report(request, "partners")


@staff_required(Perm.REPORTS_VIEW)
def report_programs(request: HttpRequest) -> HttpResponse:
    return _report(request, "programs")


@staff_required(Perm.REPORTS_VIEW)
def report_channels(request: HttpRequest) -> HttpResponse:
    return _report(request, "channels")


@staff_required(Perm.REPORTS_VIEW)
def report_quality(request: HttpRequest) -> HttpResponse:
    return _report(request, "quality")


@staff_required(Perm.REPORTS_VIEW)
def report_periods(request: HttpRequest) -> HttpResponse:
    return _report(request, "periods")
