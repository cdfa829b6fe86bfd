"""Reads of the rollups: rows grouped by one dimension over a period, with their money
per currency and a total in the tenant's currency. Every page (dashboard, reports,
partner stats) and any export of a report go through ``grouped`` and ``money_of``.

Three queries at most per call, whatever the number of rows behind them.
"""

# ruff: noqa: S608 - SQL of whitelisted identifiers (GROUPS, measures); values are parameters

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection

from prm.models import Tenant
from prm.models.tenant import CURRENCY_CHOICES
from rewards.services.fx import RateBook

ZERO = Decimal("0")
CENT = Decimal("0.01")

# Each grouping: the key rows are grouped by (native type: grouping and joining on uuids
# and dates is much cheaper than on their text), and its text for the page ({k}: the
# key; '' for "none", e.g. paid money has no program).
NO_ID = "'00000000-0000-0000-0000-000000000000'::uuid"
_ID_TEXT = f"CASE WHEN {{k}} = {NO_ID} THEN '' ELSE {{k}}::text END"
_DATE_TEXT = "to_char({k}, 'YYYY-MM-DD')"
KEYS = {
    "all": ("''", "{k}"),
    "partner": (f"coalesce(partner_id, {NO_ID})", _ID_TEXT),
    "program": (f"coalesce(program_id, {NO_ID})", _ID_TEXT),
    "kind": ("kind", "{k}"),
    "utm_source": ("utm_source", "{k}"),
    "utm_medium": ("utm_medium", "{k}"),
    "utm_campaign": ("utm_campaign", "{k}"),
    "sub_id": ("sub_id", "{k}"),
    "referrer_domain": ("referrer_domain", "{k}"),
    "day": ("day", _DATE_TEXT),
    "week": ("date_trunc('week', day)::date", _DATE_TEXT),
    "month": ("date_trunc('month', day)::date", _DATE_TEXT),
}
GROUPS = {name: text.format(k=key) for name, (key, text) in KEYS.items()}
CHANNEL_GROUPS = ["kind", "utm_source", "utm_medium", "utm_campaign", "sub_id", "referrer_domain"]
PERIOD_GROUPS = ["day", "week", "month"]

CLICK_MEASURES = ["clicks", "visitors"]
COUNT_MEASURES = [
    "leads",
    "leads_converted",
    "leads_rejected",
    "leads_refunded",
    "leads_duplicate",
    "leads_flagged",
    "conversions",
    "conversions_refunded",
    "conversions_flagged",
]
MONEY_MEASURES = ["revenue", "refunded", "accrued", "approved", "paid", "clawed_back"]
# Totals in the tenant's currency: net revenue (after refunds) and the rewards.
TOTAL_MEASURES = ["revenue_total", "accrued_total", "approved_total", "paid_total"]
SORTS = CLICK_MEASURES + COUNT_MEASURES + TOTAL_MEASURES


@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    program_id: str = ""
    partner_id: str = ""
    partner_ids: tuple[str, ...] = ()  # any of these partners (the Overview's top ones)
    q: str = ""  # partner name or e-mail contains
    kind: str = ""  # channel kind
    q_ids: tuple[str, ...] | None = None  # the partners ``q`` finds (``searched``)
    # The partners ``q`` does not find, when it finds all but a few (``searched``).
    q_not: tuple[str, ...] | None = None

    def params(self, tenant: Tenant) -> dict[str, Any]:
        found = self.q_ids if self.q_ids is not None or not self.q else searched(tenant, self).q_ids
        wide = bool(self.q) and len(found or ()) > WIDE_SEARCH
        but = list(self.q_not) if self.q and self.q_not is not None else None
        if but is not None:
            wide = False
        return {
            "tenant": str(tenant.pk),
            "start": self.start,
            "end": self.end,
            "program": self.program_id or None,
            "partner": self.partner_id or None,
            "partners": list(self.partner_ids) if self.partner_ids else None,
            "q": f"%{self.q}%" if self.q else None,
            # A search that finds many partners is matched by a semi-join on the search
            # itself: ``= ANY`` of thousands of ids is compared row by row (0.9 s).
            "q_ids": list(found or ()) if self.q and not wide and but is None else None,
            "q_wide": f"%{self.q}%" if wide else None,
            "q_not": but,
            "kind": self.kind or None,
        }


NO_PARTNER = "00000000-0000-0000-0000-000000000000"
# Any of these partners; the "no partner" key (NO_ID) selects the unattributed rows.
PARTNERS_ANY = f"""(%(partners)s::uuid[] IS NULL OR partner_id = ANY(%(partners)s::uuid[])
    OR ({NO_ID} = ANY(%(partners)s::uuid[]) AND partner_id IS NULL))"""


# A name search: the partners it finds, looked up once (``searched``), so the rollups
# are read by partner (a search that finds few partners reads few rows).
SEARCH_SQL = """
SELECT p.id FROM partners_partnerprofile p JOIN prm_user u ON u.id = p.user_id
WHERE p.tenant_id = %(tenant)s AND (p.display_name ILIKE %(q)s OR u.email ILIKE %(q)s)
LIMIT %(limit)s
"""
# Up to this many partners found, the rollups are read by their ids (index look-ups;
# the search stops one past it: beyond, the ids are not used);
# beyond, by a hashed semi-join on the search (``q_wide``), or, when all but this many
# are found, as every partner but those (``q_not``; totals are then the workspace's
# minus theirs, see ``totals``).
WIDE_SEARCH = 200
Q_IDS = """((%(q_ids)s::uuid[] IS NULL OR {col} = ANY(%(q_ids)s::uuid[]))
    AND (%(q_not)s::uuid[] IS NULL OR ({col} IS NOT NULL AND {col} <> ALL(%(q_not)s::uuid[])))
    AND (%(q_wide)s::text IS NULL OR {col} IN (
        SELECT p.id FROM partners_partnerprofile p JOIN prm_user u ON u.id = p.user_id
        WHERE p.tenant_id = %(tenant)s
          AND (p.display_name ILIKE %(q_wide)s OR u.email ILIKE %(q_wide)s))))"""
NOT_FOUND_SQL = """
SELECT p.id FROM partners_partnerprofile p JOIN prm_user u ON u.id = p.user_id
WHERE p.tenant_id = %(tenant)s AND NOT (p.display_name ILIKE %(q)s OR u.email ILIKE %(q)s)
LIMIT %(limit)s
"""


def searched(tenant: Tenant, filters: Filters) -> Filters:
    """The filters with the partners their name search finds (one query; none if no
    search), and, when it finds many, those it does not if they are few (one more)."""
    if not filters.q or filters.q_ids is not None:
        return filters
    params = {"tenant": str(tenant.pk), "q": f"%{filters.q}%", "limit": WIDE_SEARCH + 1}
    with connection.cursor() as cursor:
        cursor.execute(SEARCH_SQL, params)
        found = tuple(str(row[0]) for row in cursor.fetchall())
        q_not = None
        if len(found) > WIDE_SEARCH:
            cursor.execute(NOT_FOUND_SQL, params)
            rest = tuple(str(row[0]) for row in cursor.fetchall())
            q_not = rest if len(rest) <= WIDE_SEARCH else None
        return replace(filters, q_ids=found, q_not=q_not)


def _everyone_but(filters: Filters) -> tuple[Filters, Filters] | None:
    """For a search that finds all partners but a few (``q_not``): the filters of the
    whole workspace and those of the few and the unattributed rows, whose difference
    is the search's figures (both read from small or summed rows)."""
    if filters.q_not is None or not filters.q or filters.partner_id or filters.partner_ids:
        return None
    whole = replace(filters, q="", q_ids=None, q_not=None)
    return whole, replace(whole, partner_ids=(*filters.q_not, NO_PARTNER))


def _where() -> str:
    where = [
        "tenant_id = %(tenant)s",
        "day BETWEEN %(start)s AND %(end)s",
        "(%(program)s::uuid IS NULL OR program_id = %(program)s::uuid)",
        "(%(partner)s::uuid IS NULL OR partner_id = %(partner)s::uuid)",
        PARTNERS_ANY,
        "(%(kind)s::text IS NULL OR kind = %(kind)s::text)",
        Q_IDS.format(col="partner_id"),
    ]
    return " AND ".join(where)


# Groupings ProgramDay can answer alone (when no partner filter or search applies).
PROGRAM_LEVEL = {"all", "program", "kind", "day", "week", "month"}


def program_level(group: str, filters: Filters) -> bool:
    return (
        group in PROGRAM_LEVEL
        and not filters.partner_id
        and not filters.partner_ids
        and not filters.q
    )


def summed_table(group: str, filters: Filters) -> str:
    """The rollup summed over partners that answers this grouping alone ('' if none:
    a partner filter or search, or a grouping by partner, needs the per-partner rows)."""
    if program_level(group, filters):
        return "programs_programday"
    if group in CHANNEL_GROUPS and not (filters.partner_id or filters.partner_ids or filters.q):
        return "programs_channelday"
    return ""


def _where_program() -> str:
    return " AND ".join(
        [
            "tenant_id = %(tenant)s",
            "day BETWEEN %(start)s AND %(end)s",
            "(%(program)s::uuid IS NULL OR program_id = %(program)s::uuid)",
            "(%(kind)s::text IS NULL OR kind = %(kind)s::text)",
        ]
    )


@dataclass
class Rates:
    """Each currency's rate into the tenant's currency on one day (None: no rate)."""

    currency: str
    day: date
    rates: dict[str, Decimal | None] = field(default_factory=dict)

    @classmethod
    def on(cls, tenant: Tenant, day: date) -> Rates:
        codes = {code for code, _ in CURRENCY_CHOICES}
        book = RateBook(codes)  # one query: the whole (small) rate table of the tenant
        rates: dict[str, Decimal | None] = {}
        for code in codes:
            try:
                rates[code] = book.convert(Decimal(1), code, tenant.default_currency, day)[0]
            except ValidationError:
                rates[code] = None
        return cls(tenant.default_currency, day, rates)

    @property
    def missing(self) -> list[str]:
        return sorted(code for code, rate in self.rates.items() if rate is None)

    def sql_params(self) -> dict[str, Any]:
        known = {code: rate for code, rate in self.rates.items() if rate is not None}
        return {"rate_cur": list(known), "rate_val": [str(r) for r in known.values()]}


def _sql(
    group: str,
    *,
    sort: str,
    desc: bool,
    paged: bool,
    summed: str = "",
    spans: bool = False,
) -> str:
    key, text = KEYS[group]
    order = f"{sort} {'DESC' if desc else 'ASC'} NULLS LAST, k"
    limit = "LIMIT %(limit)s OFFSET %(offset)s" if paged else ""
    counts = ", ".join(f"sum({m}) AS {m}" for m in COUNT_MEASURES)
    # Money: summed per key and currency first, then converted (a few rows to multiply).
    per_currency = ", ".join(
        [
            "sum(revenue - refunded) AS revenue",
            "sum(accrued) AS accrued",
            "sum(approved) AS approved",
            "sum(paid) AS paid",
        ]
    )
    converted = ", ".join(
        f"sum(m.{name} * r.rate) AS {name}_total"
        for name in ("revenue", "accrued", "approved", "paid")
    )
    outer_counts = ", ".join(f"sum(m.{c}) AS {c}" for c in COUNT_MEASURES)
    if summed:  # ProgramDay or ChannelDay: clicks and activity in one table
        return f"""
WITH m AS (
    SELECT {key} AS k, currency, sum(clicks) AS clicks, sum(visitors) AS visitors, {counts},
           {per_currency}
    FROM {summed} WHERE {_where_program()} GROUP BY 1, 2
)
SELECT {text.format(k="m.k")} AS k, sum(m.clicks) AS clicks, sum(m.visitors) AS visitors,
       {outer_counts}, {converted},
       count(*) OVER () AS total_rows,
       count(*) FILTER (WHERE {text.format(k="m.k")} <> '') OVER () AS keyed_rows
FROM m LEFT JOIN unnest(%(rate_cur)s::text[], %(rate_val)s::numeric[]) AS r(currency, rate)
  ON r.currency = m.currency
GROUP BY m.k
ORDER BY {order}
{limit}
"""  # noqa: S608 (identifiers from the whitelists above)
    daily = _where() + (" AND day = ANY(%(edge_days)s::date[])" if spans else "")
    moneys = "revenue, refunded, accrued, approved, paid"
    clicks_src = f"SELECT {key} AS k, clicks, visitors FROM programs_clickday WHERE {daily}"
    activity_src = (
        f"SELECT {key} AS k, currency, {', '.join(COUNT_MEASURES)}, {moneys} "
        f"FROM programs_activityday WHERE {daily}"
    )
    if spans:  # whole weeks and months from PartnerPeriod, the edges from the days
        clicks_src += (
            f" UNION ALL SELECT {key} AS k, clicks, visitors "
            f"FROM programs_partnerperiod WHERE {_where_spans()}"
        )
        activity_src += (
            f" UNION ALL SELECT {key} AS k, currency, {', '.join(COUNT_MEASURES)}, {moneys} "
            f"FROM programs_partnerperiod WHERE {_where_spans()}"
        )
    return f"""
WITH c AS (
    SELECT k, sum(clicks) AS clicks, sum(visitors) AS visitors FROM ({clicks_src}) x GROUP BY 1
), m AS (
    SELECT k, currency, {counts}, {per_currency} FROM ({activity_src}) y GROUP BY 1, 2
), a AS (
    SELECT m.k, {outer_counts}, {converted}
    FROM m LEFT JOIN unnest(%(rate_cur)s::text[], %(rate_val)s::numeric[]) AS r(currency, rate)
      ON r.currency = m.currency
    GROUP BY m.k
)
SELECT {text.format(k="coalesce(c.k, a.k)")} AS k,
       coalesce(c.clicks, 0) AS clicks, coalesce(c.visitors, 0) AS visitors,
       {", ".join(f"coalesce(a.{m}, 0) AS {m}" for m in COUNT_MEASURES)},
       {", ".join(f"coalesce(a.{m}, 0) AS {m}" for m in TOTAL_MEASURES)},
       count(*) OVER () AS total_rows,
       count(*) FILTER (WHERE {text.format(k="coalesce(c.k, a.k)")} <> '') OVER () AS keyed_rows
FROM c FULL JOIN a ON c.k = a.k
ORDER BY {order}
{limit}
"""  # noqa: S608 (identifiers from the whitelists above)


def _where_spans() -> str:
    return " AND ".join(
        [
            "tenant_id = %(tenant)s",
            "((span = 'month' AND start = ANY(%(months)s::date[]))"
            " OR (span = 'week' AND start = ANY(%(weeks)s::date[])))",
            "(%(program)s::uuid IS NULL OR program_id = %(program)s::uuid)",
            "(%(partner)s::uuid IS NULL OR partner_id = %(partner)s::uuid)",
            "(%(kind)s::text IS NULL OR kind = %(kind)s::text)",
            PARTNERS_ANY,
            Q_IDS.format(col="partner_id"),
        ]
    )


# Groupings PartnerPeriod can answer for the whole weeks and months of a period (it keeps
# programs, kinds and partners, not the other channel fields).
SPAN_GROUPS = {"all", "partner", "program"}


def span_level(group: str, filters: Filters) -> bool:
    return group in SPAN_GROUPS and not summed_table(group, filters)


def spans_of(start: date, end: date) -> tuple[list[date], list[date], list[date]]:
    """The whole months, then whole weeks (Monday on), then single days that make up
    ``start``..``end`` (inclusive), each day in exactly one of them."""
    from datetime import timedelta

    def month_after(day: date) -> date:
        return (day.replace(day=28) + timedelta(days=4)).replace(day=1)

    months: list[date] = []
    first = start if start.day == 1 else month_after(start)
    month = first
    while month_after(month) - timedelta(days=1) <= end:
        months.append(month)
        month = month_after(month)
    pieces = [(start, end)] if not months else [(start, first - timedelta(1)), (month, end)]
    weeks: list[date] = []
    days: list[date] = []
    for lo, hi in pieces:
        day = lo
        while day <= hi:
            if day.weekday() == 0 and day + timedelta(days=6) <= hi:
                weeks.append(day)
                day += timedelta(days=7)
            else:
                days.append(day)
                day += timedelta(days=1)
    return months, weeks, days


# Any rollup row after a day: when there is none (a period ending today, the usual
# case), the weeks and the month that hold the period's last day are read whole from
# PartnerPeriod (what they hold beyond the period is nothing), so a period of the last
# 30 days reads 3-4 single days, not 8-10 of ~10,000 rows each.
DATA_AFTER_SQL = """
SELECT EXISTS (SELECT 1 FROM programs_clickday WHERE tenant_id = %(tenant)s AND day > %(end)s)
    OR EXISTS (SELECT 1 FROM programs_activityday WHERE tenant_id = %(tenant)s AND day > %(end)s)
"""


def spans_for(tenant: Tenant, start: date, end: date) -> tuple[list[date], list[date], list[date]]:
    """``spans_of`` the period, its end stretched to the end of its month when no
    rollup holds anything after it (two index probes)."""
    with connection.cursor() as cursor:
        cursor.execute(DATA_AFTER_SQL, {"tenant": str(tenant.pk), "end": end})
        data_after = cursor.fetchone()[0]
    if data_after:
        return spans_of(start, end)
    from datetime import timedelta

    month_end = (end.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    months, weeks, days = spans_of(start, month_end)
    return months, [w for w in weeks if w <= end], [d for d in days if d <= end]


@dataclass
class Page:
    rows: list[dict[str, Any]]
    total_rows: int
    keyed_rows: int = 0  # rows with a key: e.g. partners, without "no partner"


def grouped(
    tenant: Tenant,
    filters: Filters,
    group: str,
    rates: Rates,
    *,
    sort: str = "clicks",
    desc: bool = True,
    limit: int | None = None,
    offset: int = 0,
) -> Page:
    """Rows of ``group`` (see GROUPS) over the filters' days, sorted and paged in SQL."""
    if group not in GROUPS or sort not in SORTS + ["k"]:
        raise ValueError(f"unknown grouping {group!r} or sort {sort!r}")
    if group == "partner" and limit is not None and rankable(filters):
        return _ranked_partners(tenant, filters, rates, sort, desc, limit, offset)
    params = {**filters.params(tenant), **rates.sql_params(), "limit": limit, "offset": offset}
    spans = span_level(group, filters)
    if spans:
        months, weeks, edge_days = spans_for(tenant, filters.start, filters.end)
        params.update(months=months, weeks=weeks, edge_days=edge_days)
    with connection.cursor() as cursor:
        sql = _sql(
            group,
            sort=sort,
            desc=desc,
            paged=limit is not None,
            summed=summed_table(group, filters),
            spans=spans,
        )
        cursor.execute(sql, params)
        names = [col.name for col in cursor.description]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    total = rows[0]["total_rows"] if rows else 0
    keyed = rows[0]["keyed_rows"] if rows else 0
    for row in rows:
        derive(row)
    return Page(rows, total, keyed)


# A page of the rows by partner, in two steps: rank the period's active partners
# (``PartnerActivity``) on the sort measure alone, read from the one rollup that holds
# it, then read the page's partners' full rows by index (``grouped`` with their ids),
# the report's program and kind filters applied to every rollup the ranking reads.
_RANK_FILTER = (
    "(%(program)s::uuid IS NULL OR program_id = %(program)s::uuid)"
    " AND (%(kind)s::text IS NULL OR kind = %(kind)s::text)"
)
_PERIOD_ROWS = f"""
    SELECT coalesce(partner_id, {NO_ID}) AS k, {{cols}} FROM {{daily}}
    WHERE tenant_id = %(tenant)s AND day = ANY(%(edge_days)s::date[]) AND {{daily_where}}
      AND {_RANK_FILTER}
    UNION ALL
    SELECT coalesce(partner_id, {NO_ID}) AS k, {{cols}} FROM programs_partnerperiod
    WHERE tenant_id = %(tenant)s AND span = 'month' AND start = ANY(%(months)s::date[])
      AND {{where}} AND {_RANK_FILTER}
    UNION ALL
    SELECT coalesce(partner_id, {NO_ID}) AS k, {{cols}} FROM programs_partnerperiod
    WHERE tenant_id = %(tenant)s AND span = 'week' AND start = ANY(%(weeks)s::date[])
      AND {{where}} AND {_RANK_FILTER}
"""
_MONEY_COLUMN = {
    "revenue_total": "revenue - refunded",
    "accrued_total": "accrued",
    "approved_total": "approved",
    "paid_total": "paid",
}


def _rank_source(sort: str) -> str:
    """SQL of (k, v): each partner's value of ``sort`` over the period (any order).
    Each branch names the currency it reads, so that PartnerPeriod's partial covering
    indexes answer it (clicks are on the rows without a currency only)."""
    if sort in CLICK_MEASURES:
        rows = _PERIOD_ROWS.format(
            daily="programs_clickday",
            cols=f"{sort} AS v",
            daily_where=f"{sort} <> 0",
            where=f"currency = '' AND {sort} <> 0",
        )
        return f"SELECT k, sum(v) AS v FROM ({rows}) x GROUP BY k"
    if sort in COUNT_MEASURES:
        rows = " UNION ALL ".join(
            _PERIOD_ROWS.format(
                daily="programs_activityday",
                cols=f"{sort} AS v",
                daily_where=f"{only} AND {sort} <> 0",
                where=f"{only} AND {sort} <> 0",
            )
            for only in ("currency = ''", "currency <> ''")
        )
        return f"SELECT k, sum(v) AS v FROM ({rows}) x GROUP BY k"
    if sort in _MONEY_COLUMN:  # per currency first, then converted, as ``grouped`` does
        rows = _PERIOD_ROWS.format(
            daily="programs_activityday",
            cols=f"currency, {_MONEY_COLUMN[sort]} AS v",
            daily_where="currency <> ''",
            where="currency <> ''",
        )
        return f"""
SELECT m.k, sum(m.v * r.rate) AS v FROM (
    SELECT k, currency, sum(v) AS v FROM ({rows}) x GROUP BY 1, 2
) m LEFT JOIN unnest(%(rate_cur)s::text[], %(rate_val)s::numeric[]) AS r(currency, rate)
  ON r.currency = m.currency
GROUP BY m.k"""
    return "SELECT NULL::uuid AS k, NULL::numeric AS v LIMIT 0"  # by the key alone


RANK_SQL = f"""
WITH s AS (
    SELECT a.partner_id AS k FROM programs_partneractivity a
    JOIN unnest(%(amonths)s::date[], %(masks)s::int[]) AS m(month, mask) ON a.month = m.month
    WHERE a.tenant_id = %(tenant)s AND (a.click_days | a.activity_days) & m.mask <> 0
      AND {Q_IDS.format(col="a.partner_id")}
      AND (%(program)s::uuid IS NULL OR a.program_id = %(program)s::uuid)
      AND (%(kind)s::text IS NULL OR a.kind = %(kind)s::text)
    GROUP BY 1
    UNION ALL
    SELECT {NO_ID} WHERE %(q)s::text IS NULL AND EXISTS (
        SELECT 1 FROM programs_activityday a
        WHERE a.tenant_id = %(tenant)s AND a.partner_id IS NULL
          AND a.day BETWEEN %(start)s AND %(end)s AND ({{nonzero}})
          AND (%(program)s::uuid IS NULL OR a.program_id = %(program)s::uuid)
          AND (%(kind)s::text IS NULL OR a.kind = %(kind)s::text))
), v AS ({{source}})
SELECT s.k, {_ID_TEXT.format(k="s.k")} AS key, count(*) OVER () AS total_rows,
       count(*) FILTER (WHERE s.k <> {NO_ID}) OVER () AS keyed_rows
FROM s LEFT JOIN v ON v.k = s.k
ORDER BY {{order}}
LIMIT %(limit)s OFFSET %(offset)s
"""


def rankable(filters: Filters) -> bool:
    """Whether ``PartnerActivity`` knows the partners of these filters (it keeps the
    program and kind, not the other channel fields; one partner or a chosen few are read
    directly)."""
    return not (filters.partner_id or filters.partner_ids)


def _ranked_partners(
    tenant: Tenant,
    filters: Filters,
    rates: Rates,
    sort: str,
    desc: bool,
    limit: int,
    offset: int,
) -> Page:
    from programs.analytics.rollup_sql import ACTIVITY_NONZERO

    months, weeks, edge_days = spans_for(tenant, filters.start, filters.end)
    amonths, masks = month_masks(filters.start, filters.end)
    direction = "DESC" if desc else "ASC"
    value = "key" if sort == "k" else "coalesce(v.v, 0)"
    sql = RANK_SQL.format(
        nonzero=ACTIVITY_NONZERO.format(a="a"),
        source=_rank_source(sort),
        order=f"{value} {direction} NULLS LAST, key",
    )
    params = {
        **filters.params(tenant),
        **rates.sql_params(),
        "months": months,
        "weeks": weeks,
        "edge_days": edge_days,
        "amonths": amonths,
        "masks": masks,
        "limit": limit,
        "offset": offset,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ranked = cursor.fetchall()
    if not ranked:
        return Page([], 0, 0)
    order = {key: i for i, (_, key, _, _) in enumerate(ranked)}
    page = grouped(
        tenant,
        replace(filters, q="", partner_ids=tuple(str(k) for k, *_ in ranked)),
        "partner",
        rates,
        sort=sort,
        desc=desc,
    )
    rows = sorted((row for row in page.rows if row["k"] in order), key=lambda r: order[r["k"]])
    total, keyed = ranked[0][2], ranked[0][3]
    for row in rows:
        row.update(total_rows=total, keyed_rows=keyed)
    return Page(rows, total, keyed)


def derive(row: dict[str, Any]) -> dict[str, Any]:
    """The rates and EPC of a row (None where the denominator is zero); see README."""
    for name in CLICK_MEASURES + COUNT_MEASURES:
        row[name] = int(row.get(name) or 0)  # sums of sums come back as numeric
    for name in TOTAL_MEASURES:
        row[name] = (row.get(name) or ZERO).quantize(CENT)

    def ratio(a: Any, b: Any) -> Decimal | None:
        return (Decimal(a) / Decimal(b) * 100).quantize(Decimal("0.1")) if b else None

    row["click_to_lead"] = ratio(row["leads"], row["clicks"])
    row["lead_to_conversion"] = ratio(row["leads_converted"], row["leads"])
    row["rejection_rate"] = ratio(row["leads_rejected"], row["leads"])
    row["refund_rate"] = ratio(row["leads_refunded"], row["leads_converted"])
    row["duplicate_rate"] = ratio(row["leads_duplicate"], row["leads"])
    row["flagged_rate"] = ratio(row["leads_flagged"], row["leads"])
    row["epc"] = (row["accrued_total"] / row["clicks"]).quantize(CENT) if row["clicks"] else None
    return row


def totals(tenant: Tenant, filters: Filters, rates: Rates) -> dict[str, Any]:
    if split := _everyone_but(filters):
        whole, few = (totals(tenant, f, rates) for f in split)
        summed = CLICK_MEASURES + COUNT_MEASURES + TOTAL_MEASURES
        return derive({**whole, **{name: whole[name] - few[name] for name in summed}})
    page = grouped(tenant, filters, "all", rates)
    if page.rows:
        return page.rows[0]
    empty = dict.fromkeys(CLICK_MEASURES + COUNT_MEASURES, 0)
    return derive({**empty, **dict.fromkeys(TOTAL_MEASURES, ZERO)})


def money_of(
    tenant: Tenant, filters: Filters, group: str, keys: list[str] | None = None
) -> dict[str, dict[str, dict[str, Decimal]]]:
    """key -> currency -> {revenue (net of refunds), refunded, accrued, approved, paid,
    clawed_back}: the exact figures, per currency, never converted."""
    if group == "all" and (split := _everyone_but(filters)):
        whole, few = (money_of(tenant, f, "all").get("", {}) for f in split)
        out = {}
        for currency, figures in whole.items():
            less = few.get(currency, {})
            left = {name: value - less.get(name, ZERO) for name, value in figures.items()}
            if any(left.values()):
                out[currency] = left
        return {"": out} if out else {}
    key = GROUPS[group]
    if keys is None:
        only = ""
    elif group in ("partner", "program"):  # by the indexed column, not its text
        only = f"AND {group}_id = ANY(%(ids)s::uuid[])"
    else:
        only = f"AND {key} = ANY(%(keys)s)"
    sums = ", ".join(f"sum({m})" for m in MONEY_MEASURES)
    table, where = "programs_activityday", _where()
    if summed_table(group, filters):
        table, where = summed_table(group, filters), _where_program()
    sql = f"""
SELECT {key} AS k, currency, {sums}
FROM {table}
WHERE {where} AND currency <> '' {only}
GROUP BY 1, 2 ORDER BY 1, 2
"""  # noqa: S608 (identifiers from the whitelists above)
    params = {
        **filters.params(tenant),
        "keys": keys or [],
        "ids": [k for k in keys or [] if k],
    }
    out: dict[str, dict[str, dict[str, Decimal]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for k, currency, *values in cursor.fetchall():
            figures = dict(zip(MONEY_MEASURES, values, strict=True))
            figures["revenue"] = figures["revenue"] - figures["refunded"]
            if any(figures.values()):
                out.setdefault(k, {})[currency] = figures
    return out


def with_period(filters: Filters, start: date, end: date) -> Filters:
    return replace(filters, start=start, end=end)


def _span_params(tenant: Tenant, filters: Filters) -> dict[str, Any]:
    months, weeks, edge_days = spans_for(tenant, filters.start, filters.end)
    return {**filters.params(tenant), "months": months, "weeks": weeks, "edge_days": edge_days}


ACTIVE_SQL = """
SELECT count(DISTINCT a.partner_id)
FROM programs_partneractivity a
JOIN unnest(%(months)s::date[], %(masks)s::int[]) AS m(month, mask) ON a.month = m.month
WHERE a.tenant_id = %(tenant)s AND (a.click_days | a.activity_days) & m.mask <> 0
"""


def month_masks(start: date, end: date) -> tuple[list[date], list[int]]:
    """The months ``start``..``end`` (inclusive) touches, each with the bit mask of its
    days in the period (bit d-1: day d, as in ``PartnerActivity``)."""
    from datetime import timedelta

    masks: dict[date, int] = {}
    day = start
    while day <= end:
        month = day.replace(day=1)
        masks[month] = masks.get(month, 0) | (1 << (day.day - 1))
        day += timedelta(days=1)
    return list(masks), list(masks.values())


def active_partners(tenant: Tenant, filters: Filters) -> int:
    """Partners with a click, lead, conversion or money movement in the period: one
    small ``PartnerActivity`` row per partner and month the period touches."""
    months, masks = month_masks(filters.start, filters.end)
    with connection.cursor() as cursor:
        cursor.execute(ACTIVE_SQL, {"tenant": str(tenant.pk), "months": months, "masks": masks})
        return int(cursor.fetchone()[0])


TOP_SQL = f"""
SELECT k FROM ({{source}}) v WHERE k <> {NO_ID} AND v > 0 ORDER BY v DESC, k LIMIT %(limit)s
"""


def top_partners(
    tenant: Tenant, filters: Filters, rates: Rates, limit: int
) -> list[dict[str, Any]]:
    """The partners with the most net revenue in the period, ranked on the money rows
    alone, then their full rows (a handful of partners, read by index)."""
    params = {**_span_params(tenant, filters), **rates.sql_params(), "limit": limit}
    with connection.cursor() as cursor:
        cursor.execute(TOP_SQL.format(source=_rank_source("revenue_total")), params)
        ids = tuple(str(row[0]) for row in cursor.fetchall())
    if not ids:
        return []
    scoped = replace(filters, partner_ids=ids)
    return grouped(tenant, scoped, "partner", rates, sort="revenue_total", limit=limit).rows
