"""The console Overview: figures of a period against the previous one, the daily
series for the charts, top partners and programs, and the getting-started checklist.
A constant number of queries, all on the rollups (plus a few small existence checks)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from partners.models import PartnerProfile
from prm.models import Tenant
from programs.analytics.periods import Period
from programs.analytics.rollup_read import (
    Filters,
    Rates,
    active_partners,
    grouped,
    money_of,
    totals,
)
from programs.analytics.rollup_read import top_partners as top_partners_of
from programs.models import Program

TOP = 5
SERIES_NAMES = {
    "clicks": _("Clicks"),
    "visitors": _("Unique visitors"),
    "leads": _("Leads"),
    "conversions": _("Conversions"),
    "revenue_total": _("Revenue"),
    "accrued_total": _("Rewards accrued"),
    "approved_total": _("Rewards approved"),
    "paid_total": _("Rewards paid"),
}


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: Any
    previous: Any
    money: bool = False  # shown only to roles that read money
    unit: str = ""  # "%" or a currency code

    @property
    def delta(self) -> Decimal | None:
        """Change against the previous period, in percent (None when it was zero)."""
        if self.value is None or not self.previous:
            return None
        return (
            (Decimal(self.value) - Decimal(self.previous)) / Decimal(self.previous) * 100
        ).quantize(Decimal("1"))


def _new_partners(tenant: Tenant, now: Period, before: Period) -> tuple[int, int]:
    from programs.analytics.refresh import day_start

    def between(p: Period) -> Q:
        return Q(
            created_at__gte=day_start(tenant, p.start),
            created_at__lt=day_start(tenant, p.end + timedelta(days=1)),
        )

    counts = PartnerProfile.objects.aggregate(
        now=Count("pk", filter=between(now)), before=Count("pk", filter=between(before))
    )
    return counts["now"], counts["before"]


CHECKLIST_SQL = """
SELECT EXISTS (SELECT 1 FROM programs_program WHERE tenant_id = %(t)s),
       EXISTS (SELECT 1 FROM rewards_rewardrule WHERE tenant_id = %(t)s AND is_active),
       EXISTS (SELECT 1 FROM programs_lead WHERE tenant_id = %(t)s AND source = 'snippet')
         OR EXISTS (SELECT 1 FROM programs_click WHERE tenant_id = %(t)s AND source = 'snippet'),
       EXISTS (SELECT 1 FROM rewards_payoutmethod WHERE tenant_id = %(t)s AND is_active),
       EXISTS (SELECT 1 FROM partners_partnerprofile WHERE tenant_id = %(t)s),
       EXISTS (SELECT 1 FROM programs_clickday WHERE tenant_id = %(t)s)
         OR EXISTS (SELECT 1 FROM programs_activityday WHERE tenant_id = %(t)s)
"""
STEPS = [
    ("program", _("Create a program"), "console:programs"),
    ("rule", _("Add a reward rule to it"), "console:programs"),
    (
        "snippet",
        _("Install the tracking snippet on your site (ticked at its first click or lead)"),
        "console:programs",
    ),
    ("payout", _("Set up a payout method"), "console:payout_methods"),
    ("partner", _("Get your first partner"), "console:partners"),
]


def checklist(tenant: Tenant) -> tuple[list[dict[str, Any]], bool]:
    """Getting started, each step ticked from real data (one query), and whether the
    workspace has any activity yet. Once every step is done the answer is remembered,
    so a workspace that only uses /r/ links never scans its clicks for the snippet."""
    done_key = f"prm:analytics:started:{tenant.pk}"
    if cache.get(done_key):
        return [
            {"key": k, "label": label, "done": True, "url": url} for k, label, url in STEPS
        ], True
    with connection.cursor() as cursor:
        cursor.execute(CHECKLIST_SQL, {"t": str(tenant.pk)})
        *ticks, activity = cursor.fetchone()
    if all(ticks) and activity:
        cache.set(done_key, True, timeout=None)
    steps = [
        {"key": k, "label": label, "done": tick, "url": url}
        for (k, label, url), tick in zip(STEPS, ticks, strict=True)
    ]
    return steps, activity


def series(tenant: Tenant, filters: Filters, rates: Rates, group: str = "day") -> dict[str, Any]:
    """Chart data: one point per day (or week / month) of the period, zeros filled in."""
    rows = {row["k"]: row for row in grouped(tenant, filters, group, rates, sort="k").rows}
    labels = []
    day = filters.start
    if group == "week":
        day -= timedelta(days=day.weekday())
    elif group == "month":
        day = day.replace(day=1)
    while day <= filters.end:
        labels.append(day.isoformat())
        day = _next(day, group)
    names = [
        "clicks",
        "visitors",
        "leads",
        "conversions",
        "revenue_total",
        "accrued_total",
        "approved_total",
        "paid_total",
    ]
    out: dict[str, Any] = {
        "labels": labels,
        "currency": rates.currency,
        "names": {k: str(v) for k, v in SERIES_NAMES.items()},
    }
    for name in names:
        out[name] = [_plain(rows.get(label, {}).get(name, 0)) for label in labels]
    return out


def _next(day: date, group: str) -> date:
    if group == "week":
        return day + timedelta(days=7)
    if group == "month":
        return (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return day + timedelta(days=1)


def _plain(value: Any) -> float | int:
    return float(value) if isinstance(value, Decimal) else int(value or 0)


def figures(tenant: Tenant, period: Period) -> dict[str, Any]:
    rates = Rates.on(tenant, period.end)
    now = Filters(period.start, period.end)
    before_period = period.previous()
    before = Filters(before_period.start, before_period.end)
    cur, prev = totals(tenant, now, rates), totals(tenant, before, rates)
    top_partners = top_partners_of(tenant, now, rates, TOP)
    active_now, active_before = active_partners(tenant, now), active_partners(tenant, before)
    new = _new_partners(tenant, period, before_period)
    cc = tenant.default_currency

    def fig(key: str, label: Any, *, money: bool = False, unit: str = "") -> Figure:
        return Figure(key, str(label), cur[key], prev[key], money, unit)

    flagged = Figure(
        "flagged",
        str(_("Flagged leads and conversions")),
        cur["leads_flagged"] + cur["conversions_flagged"],
        prev["leads_flagged"] + prev["conversions_flagged"],
    )
    cards = [
        fig("clicks", _("Clicks")),
        fig("visitors", _("Unique visitors")),
        fig("leads", _("Leads")),
        fig("conversions", _("Conversions")),
        fig("click_to_lead", _("Click → lead"), unit="%"),
        fig("lead_to_conversion", _("Lead → conversion"), unit="%"),
        fig("revenue_total", _("Revenue (net of refunds)"), unit=cc),
        fig("accrued_total", _("Rewards accrued"), money=True, unit=cc),
        fig("approved_total", _("Rewards approved"), money=True, unit=cc),
        fig("paid_total", _("Rewards paid"), money=True, unit=cc),
        fig("epc", _("EPC (earnings per click)"), money=True, unit=cc),
        Figure("active_partners", str(_("Active partners")), active_now, active_before),
        Figure("new_partners", str(_("New partners")), new[0], new[1]),
        flagged,
    ]
    top_programs = grouped(tenant, now, "program", rates, sort="revenue_total", limit=TOP).rows
    _name_rows(top_partners, top_programs)
    money = money_of(tenant, now, "all").get("", {})
    return {
        "cards": cards,
        "money": money,
        "missing_rates": [code for code in rates.missing if code in money],
        "rates": rates,
        "chart": series(tenant, now, rates),
        "top_partners": [r for r in top_partners if r["k"]],
        "top_programs": [r for r in top_programs if r["k"]],
    }


def _name_rows(partner_rows: list[dict[str, Any]], program_rows: list[dict[str, Any]]) -> None:
    """Put the partner's / program's name on each row (one query each)."""
    names = {
        str(p.pk): str(p)
        for p in PartnerProfile.objects.filter(
            pk__in=[r["k"] for r in partner_rows if r["k"]]
        ).select_related("user")
    }
    for row in partner_rows:
        row["name"] = names.get(row["k"], "—")
    titles = {
        str(pk): name
        for pk, name in Program.objects.filter(
            pk__in=[r["k"] for r in program_rows if r["k"]]
        ).values_list("pk", "name")
    }
    for row in program_rows:
        row["name"] = titles.get(row["k"], "—")
