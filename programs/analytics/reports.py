"""The reports' rows: one function per request of any report, separate from the views
so that an export (``<report URL>export/``) can reuse the same rows for the same
filters. All figures come from the rollups."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from partners.models import PartnerProfile
from prm.models import Tenant
from programs.analytics.periods import Period, PeriodForm
from programs.analytics.rollup_read import (
    CHANNEL_GROUPS,
    PERIOD_GROUPS,
    ZERO,
    Filters,
    Rates,
    grouped,
    money_of,
    searched,
    totals,
)
from programs.models import Program
from programs.models.rollup import Channel

PAGE_SIZE = 50


@dataclass(frozen=True)
class Report:
    kind: str
    title: Any
    groups: list[str]  # the dimensions a user may pick ("by"); the first is the default
    columns: list[str]
    default_sort: str


TRAFFIC = ["clicks", "visitors", "leads", "conversions", "click_to_lead", "lead_to_conversion"]
MONEY = ["revenue_total", "accrued_total", "approved_total", "paid_total", "epc"]
QUALITY = [
    "leads",
    "leads_converted",
    "lead_to_conversion",
    "leads_rejected",
    "rejection_rate",
    "leads_refunded",
    "refund_rate",
    "leads_duplicate",
    "duplicate_rate",
    "leads_flagged",
    "flagged_rate",
]
REPORTS = {
    "partners": Report("partners", _("By partner"), ["partner"], TRAFFIC + MONEY, "revenue_total"),
    "programs": Report("programs", _("By program"), ["program"], TRAFFIC + MONEY, "revenue_total"),
    "channels": Report(
        "channels",
        _("By channel"),
        CHANNEL_GROUPS,
        TRAFFIC + ["revenue_total", "accrued_total"],
        "clicks",
    ),
    "quality": Report("quality", _("Lead quality by partner"), ["partner"], QUALITY, "leads"),
    "periods": Report("periods", _("By period"), PERIOD_GROUPS, TRAFFIC + MONEY, "k"),
}
# Columns only roles that read money see.
MONEY_ONLY = {"accrued_total", "approved_total", "paid_total", "epc"}
# The rollup measure each sortable column sorts by (rates sort by their numerator).
SORT_BY = {
    "click_to_lead": "leads",
    "lead_to_conversion": "leads_converted",
    "rejection_rate": "leads_rejected",
    "refund_rate": "leads_refunded",
    "duplicate_rate": "leads_duplicate",
    "flagged_rate": "leads_flagged",
    "epc": "accrued_total",
}
GROUP_LABELS = {
    "partner": _("Partner"),
    "program": _("Program"),
    "kind": _("Kind"),
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "sub_id": _("Sub id"),
    "referrer_domain": _("Referrer"),
    "day": _("Day"),
    "week": _("Week"),
    "month": _("Month"),
}


class ReportFilterForm(PeriodForm):
    by = forms.CharField(required=False)
    program = forms.UUIDField(required=False)
    partner = forms.UUIDField(required=False)
    q = forms.CharField(label=_("Partner"), max_length=100, required=False)
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("Any"))] + Channel.choices, required=False
    )
    sort = forms.CharField(required=False)

    def clean_q(self) -> str:
        return self.cleaned_data["q"].replace("\x00", "").strip()


@dataclass
class ReportPage:
    report: Report
    group: str
    period: Period
    rows: list[dict[str, Any]]
    total_rows: int
    totals: dict[str, Any]
    money_totals: dict[str, Any]
    rates: Rates
    columns: list[str]
    sort: str
    desc: bool
    page: int
    pages: int
    filters: Filters
    extra: dict[str, Any] = field(default_factory=dict)


def report_rows(
    tenant: Tenant,
    kind: str,
    form: ReportFilterForm,
    today: Any,
    *,
    money: bool,
    page: int = 1,
    page_size: int | None = PAGE_SIZE,
) -> ReportPage:
    """The rows of report ``kind`` for the filters of a (bound) ``form``: a page of them,
    or all of them with ``page_size=None`` (an export)."""
    report = REPORTS[kind]
    period = form.chosen(today)
    data = form.cleaned_data if form.is_valid() else {}
    group = data.get("by") if data.get("by") in report.groups else report.groups[0]
    columns = [c for c in report.columns if money or c not in MONEY_ONLY]
    raw_sort = data.get("sort") or ""
    sort = raw_sort.lstrip("-") or report.default_sort
    if sort not in columns and sort != "k":
        sort, raw_sort = report.default_sort, ""
    desc = raw_sort.startswith("-") if raw_sort else sort != "k"
    filters = Filters(
        period.start,
        period.end,
        program_id=str(data["program"]) if data.get("program") else "",
        partner_id=str(data["partner"]) if data.get("partner") else "",
        q=data.get("q", ""),
        kind=data.get("kind", ""),
    )
    filters = searched(tenant, filters)  # once for the page's queries
    rates = Rates.on(tenant, period.end)
    offset = (page - 1) * page_size if page_size else 0
    result = grouped(
        tenant,
        filters,
        group,
        rates,
        sort=SORT_BY.get(sort, sort),
        desc=desc,
        limit=page_size,
        offset=offset,
    )
    keys = [row["k"] for row in result.rows]
    money_rows = money_of(tenant, filters, group, keys)
    for row in result.rows:
        row["money"] = money_rows.get(row["k"], {})
    _label(result.rows, group)
    pages = max(1, -(-result.total_rows // page_size)) if page_size else 1
    return ReportPage(
        report=report,
        group=group,
        period=period,
        rows=result.rows,
        total_rows=result.total_rows,
        totals=totals(tenant, filters, rates),
        money_totals=money_of(tenant, filters, "all").get("", {}),
        rates=rates,
        columns=columns,
        sort=sort,
        desc=desc,
        page=page,
        pages=pages,
        filters=filters,
    )


def _label(rows: list[dict[str, Any]], group: str) -> None:
    """A readable name for each row's key (one query for partners or programs)."""
    keys = [row["k"] for row in rows if row["k"]]
    names: dict[str, str] = {}
    if group == "partner" and keys:
        names = {
            str(p.pk): str(p)
            for p in PartnerProfile.objects.filter(pk__in=keys).select_related("user")
        }
    elif group == "program" and keys:
        names = {
            str(pk): n for pk, n in Program.objects.filter(pk__in=keys).values_list("pk", "name")
        }
    elif group == "kind":
        names = {value: str(label) for value, label in Channel.choices}
    for row in rows:
        row["label"] = names.get(row["k"], row["k"]) or str(_("(none)"))


COLUMN_LABELS = {
    "clicks": _("Clicks"),
    "visitors": _("Unique visitors"),
    "leads": _("Leads"),
    "conversions": _("Conversions"),
    "click_to_lead": _("Click → lead"),
    "lead_to_conversion": _("Lead → conversion"),
    "revenue_total": _("Revenue (net)"),
    "accrued_total": _("Rewards accrued"),
    "approved_total": _("Rewards approved"),
    "paid_total": _("Rewards paid"),
    "epc": _("EPC"),
    "leads_converted": _("Converted"),
    "leads_rejected": _("Rejected"),
    "rejection_rate": _("Rejection rate"),
    "leads_refunded": _("Refunded"),
    "refund_rate": _("Refund rate"),
    "leads_duplicate": _("Duplicates"),
    "duplicate_rate": _("Duplicate rate"),
    "leads_flagged": _("Flagged"),
    "flagged_rate": _("Flagged rate"),
}
RATES = {
    "click_to_lead",
    "lead_to_conversion",
    "rejection_rate",
    "refund_rate",
    "duplicate_rate",
    "flagged_rate",
}
# Which list holds the rows behind a column, and the extra filter that selects them.
DRILL = {
    "leads": ("console:leads", {}),
    "leads_converted": ("console:leads", {"status": "converted"}),
    "leads_rejected": ("console:leads", {"status": "rejected"}),
    "leads_duplicate": ("console:leads", {"duplicates": "on"}),
    "leads_flagged": ("console:leads", {"flagged": "on"}),
    "leads_refunded": ("console:leads", {"refunded": "on"}),
    "conversions": ("console:conversions", {}),
    "revenue_total": ("console:conversions", {}),
    "accrued_total": ("console:rewards", {}),
    "approved_total": ("console:rewards", {"status": "approved"}),
}


def row_filters(page: ReportPage, key: str | None) -> dict[str, str] | None:
    """The list filters that select the rows behind one report row (``key``), or behind
    the totals (``None``); None when no list filter can say it (e.g. "no utm_source")."""
    from datetime import date, timedelta

    params: dict[str, str] = {
        "since": page.period.start.isoformat(),
        "until": page.period.end.isoformat(),
    }
    f = page.filters
    if f.program_id:
        params["program"] = f.program_id
    if f.partner_id:
        params["partner"] = f.partner_id
    if f.kind:
        params["kind"] = f.kind
    if key is None:
        return None if f.q else params  # a name search has no list filter
    if not key:
        return None
    group = page.group
    if group in ("partner", "program"):
        params[group] = key
    elif group in PERIOD_GROUPS:
        start = date.fromisoformat(key)
        if group == "day":
            end = start
        elif group == "week":
            end = start + timedelta(days=6)
        else:
            end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        params["since"] = max(start, page.period.start).isoformat()
        params["until"] = min(end, page.period.end).isoformat()
        if f.q:
            return None
    else:
        params[group] = key
        if f.q:
            return None
    return params


def drill_links(page: ReportPage, key: str | None) -> dict[str, str]:
    """column -> URL of the list behind the figure (and ``column:CUR`` per currency)."""
    from urllib.parse import urlencode

    from django.urls import reverse

    base = row_filters(page, key)
    if base is None:
        return {}
    links = {}
    for column, (name, extra) in DRILL.items():
        if column in page.columns:
            params = dict(base)
            if name == "console:leads" and "partner" in params:
                # A partner's leads as the rollups count them (their registered duplicates too).
                params["brought_by"] = params.pop("partner")
            links[column] = f"{reverse(name)}?{urlencode({**params, **extra})}"
    return links


MONEY_FIELD = {
    "revenue_total": "revenue",
    "accrued_total": "accrued",
    "approved_total": "approved",
    "paid_total": "paid",
}


def cells(page: ReportPage, row: dict[str, Any], links: dict[str, str]) -> list[dict[str, Any]]:
    """One cell per column: the figure, its link, and money's lines per currency."""
    from programs.templatetags.analytics_ui import figure

    out = []
    for column in page.columns:
        value = row.get(column)
        unit = (
            "%"
            if column in RATES
            else page.rates.currency
            if column in MONEY_FIELD or column == "epc"
            else ""
        )
        cell: dict[str, Any] = {
            "column": column,
            "text": figure(value, unit),
            "url": links.get(column),
        }
        if column in MONEY_FIELD:
            money = row.get("money", {})
            cell["lines"] = [
                {
                    "text": figure(m[MONEY_FIELD[column]], currency),
                    "url": f"{cell['url']}&currency={currency}" if cell["url"] else None,
                }
                for currency, m in sorted(money.items())
                if m.get(MONEY_FIELD[column])
            ]
        if value in (0, None) and column not in RATES:
            cell["url"] = None  # nothing behind a zero
        out.append(cell)
    return out


def export_rows(page: ReportPage) -> tuple[list[str], list[list[Any]]]:
    """A report's rows for a file: the group (and the partner's or program's id), every
    column the person may see, then the money columns per currency, unconverted (the
    converted totals use the period's rates; a finance person reconciles per currency)."""
    keyed = page.group in ("partner", "program")
    currencies = sorted(page.money_totals)
    money = [c for c in page.columns if c in MONEY_FIELD]
    header = [page.group] + (["id"] if keyed else []) + page.columns
    header += [f"{MONEY_FIELD[c]}_{cur}" for c in money for cur in currencies]
    rows = []
    for row in page.rows:
        line = [row["label"]] + ([row["k"]] if keyed else []) + [row[c] for c in page.columns]
        per_currency = row.get("money", {})
        line += [
            per_currency.get(cur, {}).get(MONEY_FIELD[c], ZERO) for c in money for cur in currencies
        ]
        rows.append(line)
    return header, rows
