"""The partner's own stats in the cabinet: figures, series, per program and per sub id,
from the rollups filtered to the partner (their leads and conversions as short lists)."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator

from partners.models import PartnerProfile
from prm.models import Tenant
from programs import selectors
from programs.analytics.dashboard import series
from programs.analytics.periods import Period
from programs.analytics.refresh import day_start
from programs.analytics.rollup_read import Filters, Rates, grouped, money_of, totals
from programs.models import Program

LEADS_PAGE = 25
CONVERSIONS_SHOWN = 20
TABLE_ROWS = 50


def partner_stats(
    tenant: Tenant, partner: PartnerProfile, period: Period, *, leads_page: Any = 1
) -> dict[str, Any]:
    from datetime import timedelta

    rates = Rates.on(tenant, period.end)
    filters = Filters(period.start, period.end, partner_id=str(partner.pk))
    figures = totals(tenant, filters, rates)
    chart = series(tenant, filters, rates)
    for name in ("revenue_total", "approved_total", "paid_total", "visitors"):
        chart.pop(name, None)
    programs = grouped(tenant, filters, "program", rates, sort="clicks", limit=TABLE_ROWS).rows
    programs = [row for row in programs if row["k"]]  # payouts are not per program
    subs = grouped(tenant, filters, "sub_id", rates, sort="clicks", limit=TABLE_ROWS).rows
    names = dict(
        Program.objects.filter(pk__in=[r["k"] for r in programs if r["k"]]).values_list(
            "pk", "name"
        )
    )
    for row in programs:
        row["label"] = names.get(_uuid(row["k"]), "—")
    since, until = day_start(tenant, period.start), day_start(tenant, period.end + timedelta(1))
    leads = (
        selectors.partner_leads(partner)
        .filter(created_at__gte=since, created_at__lt=until)
        .only(
            "program__name",
            "email",
            "phone",
            "status",
            "duplicate_of_id",
            "sub_id",
            "utm_source",
            "created_at",
        )
        .order_by("-created_at", "pk")
    )
    conversions = (
        selectors.partner_conversions(partner)
        .filter(occurred_at__gte=since, occurred_at__lt=until)
        .order_by("-occurred_at", "pk")[:CONVERSIONS_SHOWN]
    )
    return {
        "figures": figures,
        "earnings": money_of(tenant, filters, "all").get("", {}),
        "chart": chart,
        "by_program": programs,
        "by_sub": subs,
        "leads_page": Paginator(leads, LEADS_PAGE).get_page(leads_page),
        "conversions": conversions,
        "rates": rates,
    }


def _uuid(value: str) -> Any:
    import uuid

    try:
        return uuid.UUID(value)
    except ValueError:
        return None
