"""The SQL that fills the rollups from raw rows (PostgreSQL).

Days are the tenant's local days (``tenant.timezone``). Every statement is scoped to
one tenant except the click flush's upsert, which takes a batch of any tenants' clicks.
"""

from __future__ import annotations

# The host of a referrer URL, lower-cased, without "www." (``channel.referrer_domain``).
REFERRER_DOMAIN = (
    "left(regexp_replace(lower(coalesce(substring({col} from '^[A-Za-z][A-Za-z0-9+.-]*://"
    "(?:[^@/?#]*@)?([^/:?#]+)'), '')), '^www\\.', ''), 100)"
)

_CHANNEL = "kind, utm_source, utm_medium, utm_campaign, sub_id, referrer_domain"

# Serialises the flush's increments with a rebuild of the same tenant's clicks.
CLICK_LOCK = "hashtext('prm-clickday-' || {tenant})"
ACTIVITY_LOCK = "hashtext('prm-activityday-' || {tenant})"
CLICKS_LOCK_SHARED = (
    "SELECT pg_advisory_xact_lock_shared(hashtext('prm-clickday-' || t::text)) "
    "FROM (SELECT DISTINCT tenant_id AS t FROM programs_click "
    "WHERE ingest_id = ANY(%(ids)s) ORDER BY 1) x"
)

# One statement per flushed batch: the batch's accepted clicks, grouped into buckets and
# added to them. A visitor counts once per local day, program and partner: at their
# first click of that day (earlier clicks already stored, or earlier in the batch).
CLICKS_UPSERT = f"""
INSERT INTO programs_clickday (tenant_id, day, program_id, partner_id, {_CHANNEL}, clicks, visitors)
SELECT c.tenant_id, (c.created_at AT TIME ZONE t.timezone)::date, c.program_id, c.partner_id,
       'link', c.utm_source, c.utm_medium, c.utm_campaign, c.sub_id,
       {REFERRER_DOMAIN.format(col="c.referrer")},
       count(*),
       count(DISTINCT c.visitor_id) FILTER (WHERE NOT EXISTS (
           SELECT 1 FROM programs_click e
           WHERE e.tenant_id = c.tenant_id AND e.program_id = c.program_id
             AND e.visitor_id = c.visitor_id AND e.partner_id = c.partner_id
             AND e.status = 'accepted'
             AND e.created_at >= ((c.created_at AT TIME ZONE t.timezone)::date::timestamp
                                  AT TIME ZONE t.timezone)
             AND (e.created_at < c.created_at OR (e.created_at = c.created_at AND e.id < c.id))
       ))
FROM programs_click c JOIN prm_tenant t ON t.id = c.tenant_id
WHERE c.ingest_id = ANY(%(ids)s) AND c.status = 'accepted' AND c.partner_id IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
ON CONFLICT (tenant_id, day, program_id, partner_id, {_CHANNEL})
DO UPDATE SET clicks = programs_clickday.clicks + EXCLUDED.clicks,
              visitors = programs_clickday.visitors + EXCLUDED.visitors
"""  # noqa: S608 (constants only)

CLICKS_REBUILD = f"""
INSERT INTO programs_clickday (tenant_id, day, program_id, partner_id, {_CHANNEL}, clicks, visitors)
SELECT %(tenant)s, day, program_id, partner_id, 'link', utm_source, utm_medium, utm_campaign,
       sub_id, referrer_domain, count(*), sum(first)
FROM (
    SELECT (c.created_at AT TIME ZONE %(tz)s)::date AS day, c.program_id, c.partner_id,
           c.utm_source, c.utm_medium, c.utm_campaign, c.sub_id,
           {REFERRER_DOMAIN.format(col="c.referrer")} AS referrer_domain,
           (row_number() OVER (
               PARTITION BY c.program_id, c.partner_id, c.visitor_id,
                            (c.created_at AT TIME ZONE %(tz)s)::date
               ORDER BY c.created_at, c.id) = 1)::int AS first
    FROM programs_click c
    WHERE c.tenant_id = %(tenant)s AND c.status = 'accepted' AND c.partner_id IS NOT NULL
      AND c.created_at >= %(lo)s
) x
GROUP BY day, program_id, partner_id, utm_source, utm_medium, utm_campaign, sub_id,
         referrer_domain
"""  # noqa: S608 (constants only)

LEAD_KIND = (
    "CASE {l}.source WHEN 'snippet' THEN 'link' WHEN 'cabinet' THEN 'registration' "
    "WHEN 'console' THEN 'staff' ELSE {l}.source END"
)

# {partners}: an extra filter on each source's partner column (or nothing).
FACTS = f"""
SELECT (l.created_at AT TIME ZONE %(tz)s)::date AS day, l.program_id,
       coalesce(l.partner_id, l.registered_by_id) AS partner_id,
       {LEAD_KIND.format(l="l")} AS kind, l.utm_source, l.utm_medium, l.utm_campaign,
       l.sub_id, l.referrer_domain, '' AS currency,
       1 AS leads,
       (l.status = 'converted')::int AS leads_converted,
       (l.status = 'rejected')::int AS leads_rejected,
       (EXISTS (SELECT 1 FROM programs_conversion x
                WHERE x.lead_id = l.id AND x.refunded_amount > 0))::int AS leads_refunded,
       (l.duplicate_of_id IS NOT NULL)::int AS leads_duplicate,
       (EXISTS (SELECT 1 FROM antifraud_riskassessment a
                WHERE a.lead_id = l.id AND a.subject = 'lead'
                  AND a.level IN ('review', 'reject')))::int AS leads_flagged,
       0 AS conversions, 0 AS conversions_refunded, 0 AS conversions_flagged,
       0::numeric AS revenue, 0::numeric AS refunded, 0::numeric AS accrued,
       0::numeric AS approved, 0::numeric AS paid, 0::numeric AS clawed_back
FROM programs_lead l
WHERE l.tenant_id = %(tenant)s AND l.created_at >= %(lo)s AND l.created_at < %(hi)s
      {{partners_l}}
UNION ALL
SELECT (c.occurred_at AT TIME ZONE %(tz)s)::date, c.program_id, c.partner_id,
       CASE WHEN c.promo_code <> '' THEN 'promo'
            WHEN l.id IS NOT NULL THEN {LEAD_KIND.format(l="l")} ELSE 'link' END,
       coalesce(l.utm_source, ''), coalesce(l.utm_medium, ''), coalesce(l.utm_campaign, ''),
       coalesce(l.sub_id, ''), coalesce(l.referrer_domain, ''), c.currency,
       0, 0, 0, 0, 0, 0,
       1, (c.refunded_amount > 0)::int,
       (EXISTS (SELECT 1 FROM antifraud_riskassessment a
                WHERE a.conversion_id = c.id AND a.subject = 'conversion'
                  AND a.level IN ('review', 'reject')))::int,
       c.amount, c.refunded_amount, 0, 0, 0, 0
FROM programs_conversion c LEFT JOIN programs_lead l ON l.id = c.lead_id
WHERE c.tenant_id = %(tenant)s AND c.occurred_at >= %(lo)s AND c.occurred_at < %(hi)s
      {{partners_c}}
UNION ALL
SELECT (e.created_at AT TIME ZONE %(tz)s)::date, r.program_id, e.partner_id,
       CASE WHEN r.id IS NULL OR (rc.id IS NULL AND rl.id IS NULL) THEN ''
            WHEN rc.promo_code <> '' THEN 'promo'
            WHEN rl.id IS NOT NULL THEN {LEAD_KIND.format(l="rl")} ELSE 'link' END,
       coalesce(rl.utm_source, ''), coalesce(rl.utm_medium, ''),
       coalesce(rl.utm_campaign, ''), coalesce(rl.sub_id, ''),
       coalesce(rl.referrer_domain, ''), e.currency,
       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
       CASE WHEN e.kind = 'accrual' THEN e.pending + e.available + e.processing + e.paid
            ELSE 0 END,
       CASE WHEN e.kind = 'approval' THEN e.available ELSE 0 END,
       CASE WHEN e.kind = 'payout_paid' THEN e.paid ELSE 0 END,
       CASE WHEN e.kind = 'clawback' THEN -(e.pending + e.available + e.processing + e.paid)
            ELSE 0 END
FROM rewards_ledgerentry e
LEFT JOIN rewards_reward r ON r.id = e.reward_id
LEFT JOIN programs_conversion rc ON rc.id = r.conversion_id
LEFT JOIN programs_lead rl ON rl.id = coalesce(rc.lead_id, r.lead_id)
WHERE e.tenant_id = %(tenant)s AND e.created_at >= %(lo)s AND e.created_at < %(hi)s
      AND e.kind IN ('accrual', 'approval', 'payout_paid', 'clawback')
      {{partners_e}}
"""  # noqa: S608 (constants only)

_MEASURES = [
    "leads",
    "leads_converted",
    "leads_rejected",
    "leads_refunded",
    "leads_duplicate",
    "leads_flagged",
    "conversions",
    "conversions_refunded",
    "conversions_flagged",
    "revenue",
    "refunded",
    "accrued",
    "approved",
    "paid",
    "clawed_back",
]
_KEYS = f"f.day, f.program_id, f.partner_id, f.{_CHANNEL.replace(', ', ', f.')}, f.currency"

ACTIVITY_INSERT = f"""
INSERT INTO programs_activityday (tenant_id, day, program_id, partner_id, {_CHANNEL}, currency,
                                  {", ".join(_MEASURES)})
SELECT %(tenant)s, {_KEYS}, {", ".join(f"sum(f.{m})" for m in _MEASURES)}
FROM ({{facts}}) f
{{buckets}}
GROUP BY {_KEYS}
"""  # noqa: S608 (constants only)

BUCKETS = """
JOIN unnest(%(days)s::date[], %(partners)s::uuid[]) AS b(day, partner_id)
  ON b.day = f.day AND b.partner_id IS NOT DISTINCT FROM f.partner_id
"""

ACTIVITY_DELETE_BUCKETS = """
DELETE FROM programs_activityday a
USING unnest(%(days)s::date[], %(partners)s::uuid[]) AS b(day, partner_id)
WHERE a.tenant_id = %(tenant)s AND a.day = b.day
  AND a.partner_id IS NOT DISTINCT FROM b.partner_id
"""


def partner_filter(alias: str, column: str = "{alias}.partner_id") -> str:
    column = column.format(alias=alias)
    return f"AND ({column} = ANY(%(pids)s::uuid[]) OR (%(with_none)s AND {column} IS NULL))"


def activity_insert(*, buckets: bool) -> str:
    if buckets:
        facts = FACTS.format(
            partners_l=partner_filter("l", "coalesce(l.partner_id, l.registered_by_id)"),
            partners_c=partner_filter("c"),
            partners_e=partner_filter("e"),
        )
    else:
        facts = FACTS.format(partners_l="", partners_c="", partners_e="")
    return ACTIVITY_INSERT.format(facts=facts, buckets=BUCKETS if buckets else "")


# ProgramDay: the flush's second upsert (the batch's clicks by day and program) ...
_ZERO_ACTIVITY = ", ".join("0" for _ in _MEASURES)
PROGRAM_CLICKS_UPSERT = f"""
INSERT INTO programs_programday (tenant_id, day, program_id, kind, currency, clicks, visitors,
                                 {", ".join(_MEASURES)})
SELECT c.tenant_id, (c.created_at AT TIME ZONE t.timezone)::date AS day, c.program_id, 'link', '',
       count(*),
       count(DISTINCT c.partner_id::text || ':' || c.visitor_id) FILTER (WHERE NOT EXISTS (
           SELECT 1 FROM programs_click e
           WHERE e.tenant_id = c.tenant_id AND e.program_id = c.program_id
             AND e.visitor_id = c.visitor_id AND e.partner_id = c.partner_id
             AND e.status = 'accepted'
             AND e.created_at >= ((c.created_at AT TIME ZONE t.timezone)::date::timestamp
                                  AT TIME ZONE t.timezone)
             AND (e.created_at < c.created_at OR (e.created_at = c.created_at AND e.id < c.id))
       )),
       {_ZERO_ACTIVITY}
FROM programs_click c JOIN prm_tenant t ON t.id = c.tenant_id
WHERE c.ingest_id = ANY(%(ids)s) AND c.status = 'accepted' AND c.partner_id IS NOT NULL
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
ON CONFLICT (tenant_id, day, program_id, kind, currency)
DO UPDATE SET clicks = programs_programday.clicks + EXCLUDED.clicks,
              visitors = programs_programday.visitors + EXCLUDED.visitors
"""  # noqa: S608 (constants only)

# ... its click columns rebuilt from ClickDay ...
PROGRAM_CLICKS_REBUILD = f"""
INSERT INTO programs_programday (tenant_id, day, program_id, kind, currency, clicks, visitors,
                                 {", ".join(_MEASURES)})
SELECT tenant_id, day, program_id, 'link', '', sum(clicks), sum(visitors), {_ZERO_ACTIVITY}
FROM programs_clickday WHERE tenant_id = %(tenant)s AND day >= %(since)s
GROUP BY tenant_id, day, program_id
"""  # noqa: S608 (constants only)


# ... and its other columns recomputed from ActivityDay for some days ({days}: a condition
# on ``day``), the rows locked in one order so a concurrent flush waits, never deadlocks.
def summed_activity(table: str, key: str) -> tuple[str, str, str]:
    """A summed rollup's (ProgramDay's, ChannelDay's) non-click columns of some days
    ({days}: a condition on ``day``), recomputed from ActivityDay: lock its rows in one
    order (a concurrent flush waits, never deadlocks), zero them, upsert the sums."""
    lock = f"""
SELECT 1 FROM {table} WHERE tenant_id = %(tenant)s AND {{days}}
ORDER BY day, {key} FOR UPDATE
"""  # noqa: S608 (constants only)
    clear = f"""
UPDATE {table} SET {", ".join(f"{m} = 0" for m in _MEASURES)}
WHERE tenant_id = %(tenant)s AND {{days}}
"""  # noqa: S608 (constants only)
    upsert = f"""
INSERT INTO {table} (tenant_id, day, {key}, clicks, visitors, {", ".join(_MEASURES)})
SELECT tenant_id, day, {key}, 0, 0, {", ".join(f"sum({m})" for m in _MEASURES)}
FROM programs_activityday WHERE tenant_id = %(tenant)s AND {{days}}
GROUP BY tenant_id, day, {key}
ORDER BY day, {key}
ON CONFLICT (tenant_id, day, {key})
DO UPDATE SET {", ".join(f"{m} = EXCLUDED.{m}" for m in _MEASURES)}
"""  # noqa: S608 (constants only)
    return lock, clear, upsert


DAYS_IN = "day = ANY(%(pdays)s::date[])"
DAYS_SINCE = "day >= %(since)s"


# ChannelDay: ProgramDay's twin with every channel field (the reports by channel).
_CHANNEL_COLS = f"tenant_id, day, program_id, {_CHANNEL}, currency, clicks, visitors, " + ", ".join(
    _MEASURES
)
_CHANNEL_KEY = f"(tenant_id, day, program_id, {_CHANNEL}, currency)"
# The flush's clicks by day, program and channel; a visitor counts as in ClickDay (at
# their first click of the day with this partner), so the sum over channels is ClickDay's.
CHANNEL_CLICKS_UPSERT = f"""
INSERT INTO programs_channelday ({_CHANNEL_COLS})
SELECT c.tenant_id, (c.created_at AT TIME ZONE t.timezone)::date AS day, c.program_id,
       'link', c.utm_source, c.utm_medium, c.utm_campaign, c.sub_id,
       {REFERRER_DOMAIN.format(col="c.referrer")}, '',
       count(*),
       count(DISTINCT c.partner_id::text || ':' || c.visitor_id) FILTER (WHERE NOT EXISTS (
           SELECT 1 FROM programs_click e
           WHERE e.tenant_id = c.tenant_id AND e.program_id = c.program_id
             AND e.visitor_id = c.visitor_id AND e.partner_id = c.partner_id
             AND e.status = 'accepted'
             AND e.created_at >= ((c.created_at AT TIME ZONE t.timezone)::date::timestamp
                                  AT TIME ZONE t.timezone)
             AND (e.created_at < c.created_at OR (e.created_at = c.created_at AND e.id < c.id))
       )),
       {_ZERO_ACTIVITY}
FROM programs_click c JOIN prm_tenant t ON t.id = c.tenant_id
WHERE c.ingest_id = ANY(%(ids)s) AND c.status = 'accepted' AND c.partner_id IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9
ON CONFLICT {_CHANNEL_KEY}
DO UPDATE SET clicks = programs_channelday.clicks + EXCLUDED.clicks,
              visitors = programs_channelday.visitors + EXCLUDED.visitors
"""  # noqa: S608 (constants only)

CHANNEL_CLICKS_REBUILD = f"""
INSERT INTO programs_channelday ({_CHANNEL_COLS})
SELECT tenant_id, day, program_id, {_CHANNEL}, '', sum(clicks), sum(visitors), {_ZERO_ACTIVITY}
FROM programs_clickday WHERE tenant_id = %(tenant)s AND day >= %(since)s
GROUP BY tenant_id, day, program_id, {_CHANNEL}
"""  # noqa: S608 (constants only)

SUMMED_ACTIVITY = [
    summed_activity("programs_programday", "program_id, kind, currency"),
    summed_activity("programs_channelday", f"program_id, {_CHANNEL}, currency"),
]


# PartnerPeriod: whole weeks and months per partner (no channels). {sums}: its columns.
NO_ID = "'00000000-0000-0000-0000-000000000000'::uuid"
SPANS = "(VALUES ('week'), ('month')) AS s(span)"
_PERIOD_COLS = (
    "tenant_id, span, start, program_id, partner_id, kind, currency, clicks, visitors, "
    + ", ".join(_MEASURES)
)
_PERIOD_KEY = "(tenant_id, span, start, program_id, partner_id, kind, currency)"
PERIOD_CLICKS_UPSERT = f"""
INSERT INTO programs_partnerperiod ({_PERIOD_COLS})
SELECT x.tenant_id, s.span, date_trunc(s.span, x.day)::date, x.program_id, x.partner_id,
       'link', '', sum(x.clicks), sum(x.visitors), {_ZERO_ACTIVITY}
FROM (
    SELECT c.tenant_id, (c.created_at AT TIME ZONE t.timezone)::date AS day, c.program_id,
           c.partner_id, count(*) AS clicks,
           count(DISTINCT c.visitor_id) FILTER (WHERE NOT EXISTS (
               SELECT 1 FROM programs_click e
               WHERE e.tenant_id = c.tenant_id AND e.program_id = c.program_id
                 AND e.visitor_id = c.visitor_id AND e.partner_id = c.partner_id
                 AND e.status = 'accepted'
                 AND e.created_at >= ((c.created_at AT TIME ZONE t.timezone)::date::timestamp
                                      AT TIME ZONE t.timezone)
                 AND (e.created_at < c.created_at
                      OR (e.created_at = c.created_at AND e.id < c.id))
           )) AS visitors
    FROM programs_click c JOIN prm_tenant t ON t.id = c.tenant_id
    WHERE c.ingest_id = ANY(%(ids)s) AND c.status = 'accepted' AND c.partner_id IS NOT NULL
    GROUP BY 1, 2, 3, 4
) x CROSS JOIN {SPANS}
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1, 2, 3, 4, 5
ON CONFLICT {_PERIOD_KEY}
DO UPDATE SET clicks = programs_partnerperiod.clicks + EXCLUDED.clicks,
              visitors = programs_partnerperiod.visitors + EXCLUDED.visitors
"""  # noqa: S608 (constants only)

PERIOD_CLICKS_REBUILD = f"""
INSERT INTO programs_partnerperiod ({_PERIOD_COLS})
SELECT tenant_id, s.span, date_trunc(s.span, day)::date, program_id, partner_id, kind, '',
       sum(clicks), sum(visitors), {_ZERO_ACTIVITY}
FROM programs_clickday CROSS JOIN {SPANS}
WHERE tenant_id = %(tenant)s AND day >= %(since)s
GROUP BY 1, 2, 3, 4, 5, 6
"""  # noqa: S608 (constants only)

PERIOD_ACTIVITY_REBUILD = f"""
INSERT INTO programs_partnerperiod ({_PERIOD_COLS})
SELECT tenant_id, s.span, date_trunc(s.span, day)::date, program_id, partner_id, kind, currency,
       0, 0, {", ".join(f"sum({m})" for m in _MEASURES)}
FROM programs_activityday CROSS JOIN {SPANS}
WHERE tenant_id = %(tenant)s AND day >= %(since)s
GROUP BY 1, 2, 3, 4, 5, 6, 7
ON CONFLICT {_PERIOD_KEY}
DO UPDATE SET {", ".join(f"{m} = EXCLUDED.{m}" for m in _MEASURES)}
"""  # noqa: S608 (constants only)

# The drain: (span, start, partner) triples recomputed from ActivityDay.
_TRIPLES = (
    "unnest(%(spans)s::text[], %(starts)s::date[], %(tpartners)s::uuid[]) "
    "AS b(span, start, partner)"
)
_MATCH = (
    "p.span = b.span AND p.start = b.start "
    f"AND coalesce(p.partner_id, {NO_ID}) = coalesce(b.partner, {NO_ID})"
)
PERIOD_ACTIVITY_LOCK = f"""
SELECT 1 FROM programs_partnerperiod p JOIN {_TRIPLES} ON {_MATCH}
WHERE p.tenant_id = %(tenant)s
ORDER BY p.span, p.start, p.program_id, p.partner_id, p.kind, p.currency FOR UPDATE OF p
"""  # noqa: S608 (constants only)
PERIOD_ACTIVITY_CLEAR = f"""
UPDATE programs_partnerperiod p SET {", ".join(f"{m} = 0" for m in _MEASURES)}
FROM {_TRIPLES} WHERE p.tenant_id = %(tenant)s AND {_MATCH}
"""  # noqa: S608 (constants only)
PERIOD_ACTIVITY_UPSERT = f"""
INSERT INTO programs_partnerperiod ({_PERIOD_COLS})
SELECT a.tenant_id, b.span, b.start, a.program_id, a.partner_id, a.kind, a.currency, 0, 0,
       {", ".join(f"sum(a.{m})" for m in _MEASURES)}
FROM programs_activityday a JOIN {_TRIPLES}
  ON coalesce(a.partner_id, {NO_ID}) = coalesce(b.partner, {NO_ID})
 AND date_trunc(b.span, a.day)::date = b.start
WHERE a.tenant_id = %(tenant)s AND a.day >= %(lo)s AND a.day < %(hi)s
  AND (a.partner_id = ANY(%(pids)s::uuid[]) OR (%(with_none)s AND a.partner_id IS NULL))
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY 2, 3, 4, 5, 6, 7
ON CONFLICT {_PERIOD_KEY}
DO UPDATE SET {", ".join(f"{m} = EXCLUDED.{m}" for m in _MEASURES)}
"""  # noqa: S608 (constants only)


# PartnerActivity: per partner, month, program and kind, bit masks of the days with
# clicks (set by the flush; clicks are all of kind 'link') and with a non-zero
# ActivityDay row (recomputed by the drain). Bit d-1: day d.
DAY_BIT = "(1 << (extract(day from {d})::int - 1))"
ACTIVITY_NONZERO = " OR ".join(f"{{a}}.{m} <> 0" for m in _MEASURES)
_ACTIVE_COLS = "tenant_id, month, partner_id, program_id, kind, click_days, activity_days"
_ACTIVE_KEY = "(tenant_id, month, partner_id, program_id, kind)"
ACTIVE_CLICKS_UPSERT = f"""
INSERT INTO programs_partneractivity ({_ACTIVE_COLS})
SELECT tenant_id, date_trunc('month', day)::date, partner_id, program_id, 'link',
       bit_or({DAY_BIT.format(d="day")}), 0
FROM (
    SELECT DISTINCT c.tenant_id, (c.created_at AT TIME ZONE t.timezone)::date AS day,
           c.partner_id, c.program_id
    FROM programs_click c JOIN prm_tenant t ON t.id = c.tenant_id
    WHERE c.ingest_id = ANY(%(ids)s) AND c.status = 'accepted' AND c.partner_id IS NOT NULL
) x
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
ON CONFLICT {_ACTIVE_KEY}
DO UPDATE SET click_days = programs_partneractivity.click_days | EXCLUDED.click_days
WHERE programs_partneractivity.click_days | EXCLUDED.click_days
      <> programs_partneractivity.click_days
"""  # noqa: S608 (constants only)

# The drain: each (day, partner) bucket's bit of activity_days, for every program and
# kind of the partner's month: set where an ActivityDay row of that day is non-zero.
_ACTIVE_BUCKETS = f"""
WITH b AS (
    SELECT DISTINCT day, partner_id
    FROM unnest(%(adays)s::date[], %(apartners)s::uuid[]) AS b(day, partner_id)
), t AS (
    SELECT date_trunc('month', day)::date AS month, partner_id,
           bit_or({DAY_BIT.format(d="day")}) AS touched
    FROM b GROUP BY 1, 2
), a AS (
    SELECT date_trunc('month', a.day)::date AS month, a.partner_id, a.program_id, a.kind,
           bit_or({DAY_BIT.format(d="a.day")}) AS active
    FROM programs_activityday a JOIN b ON a.day = b.day AND a.partner_id = b.partner_id
    WHERE a.tenant_id = %(tenant)s AND ({ACTIVITY_NONZERO.format(a="a")})
    GROUP BY 1, 2, 3, 4
)"""  # noqa: S608 (constants only)
ACTIVE_LOCK = """
SELECT 1 FROM programs_partneractivity p
JOIN unnest(%(adays)s::date[], %(apartners)s::uuid[]) AS b(day, partner_id)
  ON p.month = date_trunc('month', b.day)::date AND p.partner_id = b.partner_id
WHERE p.tenant_id = %(tenant)s
ORDER BY p.month, p.partner_id, p.program_id, p.kind FOR UPDATE OF p
"""
ACTIVE_INSERT = f"""{_ACTIVE_BUCKETS}
INSERT INTO programs_partneractivity ({_ACTIVE_COLS})
SELECT %(tenant)s, a.month, a.partner_id, a.program_id, a.kind, 0, a.active FROM a
ORDER BY 2, 3, 4, 5
ON CONFLICT {_ACTIVE_KEY} DO NOTHING
"""  # noqa: S608 (constants only)
ACTIVE_UPDATE = f"""{_ACTIVE_BUCKETS}, n AS (
    SELECT p.id, (p.activity_days & ~t.touched) | coalesce(a.active, 0) AS days
    FROM programs_partneractivity p
    JOIN t ON p.month = t.month AND p.partner_id = t.partner_id
    LEFT JOIN a ON a.month = p.month AND a.partner_id = p.partner_id
     AND a.program_id IS NOT DISTINCT FROM p.program_id AND a.kind = p.kind
    WHERE p.tenant_id = %(tenant)s
)
UPDATE programs_partneractivity p SET activity_days = n.days
FROM n WHERE p.id = n.id AND p.activity_days <> n.days
"""  # noqa: S608 (constants only)

# Rebuild from the daily rollups, from the month of %(since)s on (a month's first day);
# every tenant when %(tenant)s is NULL (the migration that added the table).
ACTIVE_REBUILD = f"""
INSERT INTO programs_partneractivity ({_ACTIVE_COLS})
SELECT tenant_id, date_trunc('month', day)::date, partner_id, program_id, kind,
       bit_or(CASE WHEN click THEN {DAY_BIT.format(d="day")} ELSE 0 END),
       bit_or(CASE WHEN click THEN 0 ELSE {DAY_BIT.format(d="day")} END)
FROM (
    SELECT DISTINCT tenant_id, day, partner_id, program_id, kind, true AS click
    FROM programs_clickday
    WHERE (%(tenant)s::uuid IS NULL OR tenant_id = %(tenant)s::uuid) AND day >= %(since)s
      AND clicks > 0
    UNION
    SELECT DISTINCT tenant_id, day, partner_id, program_id, kind, false FROM programs_activityday a
    WHERE (%(tenant)s::uuid IS NULL OR tenant_id = %(tenant)s::uuid) AND day >= %(since)s
      AND partner_id IS NOT NULL AND ({ACTIVITY_NONZERO.format(a="a")})
) x
GROUP BY 1, 2, 3, 4, 5
"""  # noqa: S608 (constants only)
