"""Keeping the rollups current, and rebuilding them.

Clicks: ``clicks_rolled_up`` runs inside the flush's transaction, one upsert per batch.

Everything else: a change to leads, conversions or money calls ``touch`` in its own
transaction. That writes an ``AnalyticsChange`` row per (local day, partner) bucket and
enqueues ``rollup_drain``, which recomputes those buckets' ``ActivityDay`` rows from the
raw rows. Recomputing a bucket twice, or two buckets in any order, gives the same rows;
a lost job leaves its change rows behind for the next drain (the sweeper or any later
change of the tenant).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from prm.jobs import job_enqueue
from prm.models import Tenant
from prm.tenancy import require_tenant
from programs.analytics import rollup_sql as sql

log = logging.getLogger(__name__)

DRAIN_BATCH = 2000
Bucket = tuple[date, Any]  # (local day, partner id or None)


def local_day(tenant: Tenant, at: datetime) -> date:
    return timezone.localtime(at, ZoneInfo(tenant.timezone)).date()


def day_start(tenant: Tenant, day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(tenant.timezone))


# Clicks


def clicks_rolled_up(ingest_ids: list[str]) -> None:
    """Add the just-inserted clicks (of any tenants) to their ``ClickDay`` buckets.
    Call inside the transaction that inserted them, with only the ids it inserted."""
    if not ingest_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(sql.CLICKS_LOCK_SHARED, {"ids": ingest_ids})
        cursor.execute(sql.CLICKS_UPSERT, {"ids": ingest_ids})
        cursor.execute(sql.PROGRAM_CLICKS_UPSERT, {"ids": ingest_ids})
        cursor.execute(sql.CHANNEL_CLICKS_UPSERT, {"ids": ingest_ids})
        cursor.execute(sql.PERIOD_CLICKS_UPSERT, {"ids": ingest_ids})
        cursor.execute(sql.ACTIVE_CLICKS_UPSERT, {"ids": ingest_ids})


# Leads, conversions, money


def touch(tenant: Tenant, buckets: Iterable[Bucket]) -> None:
    """Mark buckets for recomputation, in the caller's transaction; the drain runs
    after commit."""
    from programs.models.rollup import AnalyticsChange

    rows = {(day, str(partner) if partner else None) for day, partner in buckets}
    if not rows:
        return
    AnalyticsChange.all_tenants_unscoped.bulk_create(  # the caller's tenant, given
        [AnalyticsChange(tenant=tenant, day=day, partner_id=pid) for day, pid in rows]
    )
    job_enqueue("programs.analytics.refresh.rollup_drain", tenant=tenant)


def touch_now(tenant: Tenant, partner_ids: Iterable[Any]) -> None:
    """Money moved today for these partners (ledger entries are stamped with now)."""
    today = local_day(tenant, timezone.now())
    touch(tenant, [(today, pid) for pid in set(partner_ids)])


def touch_lead(tenant: Tenant, lead: Any) -> None:
    """A lead counts for the partner credited, or (a duplicate) the one who registered it."""
    touch(tenant, [(local_day(tenant, lead.created_at), lead.partner_id or lead.registered_by_id)])


def touch_conversion(tenant: Tenant, conversion: Any, lead: Any = None) -> None:
    buckets = [(local_day(tenant, conversion.occurred_at), conversion.partner_id)]
    if lead is not None:  # its outcome (converted, refunded) changed
        buckets.append(
            (local_day(tenant, lead.created_at), lead.partner_id or lead.registered_by_id)
        )
    touch(tenant, buckets)


def rollup_drain() -> int:
    """Job: recompute the buckets waiting in ``AnalyticsChange`` for the current
    tenant; returns how many buckets were recomputed."""
    from programs.models.rollup import AnalyticsChange

    tenant = require_tenant()
    done = 0
    while True:
        with transaction.atomic():
            _lock_activity(tenant)
            changes = list(
                AnalyticsChange.objects.order_by("id").values_list("id", "day", "partner_id")[
                    :DRAIN_BATCH
                ]
            )
            if not changes:
                return done
            buckets = {(day, partner) for _, day, partner in changes}
            activity_recompute(tenant, buckets)
            AnalyticsChange.objects.filter(id__in=[c[0] for c in changes]).delete()
            done += len(buckets)


def activity_recompute(tenant: Tenant, buckets: set[Bucket]) -> None:
    """Replace the ``ActivityDay`` rows of these buckets with sums of the raw rows.
    The caller holds the tenant's activity lock (``rollup_drain`` does)."""
    if not buckets:
        return
    ordered = sorted(buckets, key=lambda b: (b[0], str(b[1])))
    days = [b[0] for b in ordered]
    partners = [str(b[1]) if b[1] else None for b in ordered]
    params = {
        "tenant": str(tenant.pk),
        "tz": tenant.timezone,
        "days": days,
        "partners": partners,
        "pids": [p for p in partners if p],
        "with_none": any(p is None for p in partners),
        "lo": day_start(tenant, min(days)),
        "hi": day_start(tenant, max(days) + timedelta(days=1)),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql.ACTIVITY_DELETE_BUCKETS, params)
        cursor.execute(sql.activity_insert(buckets=True), params)
        _program_days(cursor, {"tenant": str(tenant.pk), "pdays": sorted(set(days))}, sql.DAYS_IN)
        _partner_periods(cursor, tenant, ordered)
        _partner_activity(cursor, tenant, ordered)


def span_start(span: str, day: date) -> date:
    return day - timedelta(days=day.weekday()) if span == "week" else day.replace(day=1)


def span_end(span: str, start: date) -> date:
    """The first day after the week or month that begins on ``start``."""
    if span == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def _partner_periods(cursor: Any, tenant: Tenant, buckets: list[Bucket]) -> None:
    """Recompute PartnerPeriod's non-click columns of the weeks and months of buckets."""
    triples = sorted(
        {
            (span, span_start(span, day), str(p) if p else None)
            for day, p in buckets
            for span in ("month", "week")
        },
        key=lambda t: (t[0], t[1], t[2] or ""),
    )
    partners = [t[2] for t in triples]
    params = {
        "tenant": str(tenant.pk),
        "spans": [t[0] for t in triples],
        "starts": [t[1] for t in triples],
        "tpartners": partners,
        "pids": sorted({p for p in partners if p}),
        "with_none": any(p is None for p in partners),
        "lo": min(t[1] for t in triples),
        "hi": max(span_end(t[0], t[1]) for t in triples),
    }
    cursor.execute(sql.PERIOD_ACTIVITY_LOCK, params)
    cursor.execute(sql.PERIOD_ACTIVITY_CLEAR, params)
    cursor.execute(sql.PERIOD_ACTIVITY_UPSERT, params)


def _partner_activity(cursor: Any, tenant: Tenant, buckets: list[Bucket]) -> None:
    """Recompute PartnerActivity's ``activity_days`` bits of the buckets' days."""
    pairs = [(day, str(p)) for day, p in buckets if p]
    if not pairs:
        return
    params = {
        "tenant": str(tenant.pk),
        "adays": [day for day, _ in pairs],
        "apartners": [p for _, p in pairs],
    }
    cursor.execute(sql.ACTIVE_LOCK, params)
    cursor.execute(sql.ACTIVE_INSERT, params)
    cursor.execute(sql.ACTIVE_UPDATE, params)


def _program_days(cursor: Any, params: dict[str, Any], days: str) -> None:
    """Recompute ProgramDay's and ChannelDay's non-click columns of some days from
    ActivityDay."""
    for statements in sql.SUMMED_ACTIVITY:
        for statement in statements:
            cursor.execute(statement.format(days=days), params)


def _lock_activity(tenant: Tenant) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(" + sql.ACTIVITY_LOCK.format(tenant="%s") + ")",
            [str(tenant.pk)],
        )


# Rebuild


def rollups_rebuild(tenant: Tenant, *, since: date | None = None) -> dict[str, int]:
    """Throw away the tenant's rollups from ``since`` (local day; all when None) and
    compute them again from the raw rows. Holds the tenant's locks meanwhile, so the
    click flush and the drain wait rather than add to rows being replaced."""
    from programs.models.rollup import (
        ActivityDay,
        AnalyticsChange,
        ChannelDay,
        ClickDay,
        PartnerActivity,
        PartnerPeriod,
        ProgramDay,
    )

    lo = day_start(tenant, since) if since else datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))
    params = {
        "tenant": str(tenant.pk),
        "tz": tenant.timezone,
        "lo": lo,
        "hi": datetime(9999, 1, 1, tzinfo=ZoneInfo("UTC")),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(" + sql.CLICK_LOCK.format(tenant="%s") + ")",
            [str(tenant.pk)],
        )
        _lock_activity(tenant)
        # The tenant is given explicitly: a command, outside any request.
        clicks = ClickDay.all_tenants_unscoped.filter(tenant=tenant)
        activity = ActivityDay.all_tenants_unscoped.filter(tenant=tenant)
        programs = ProgramDay.all_tenants_unscoped.filter(tenant=tenant)
        channels = ChannelDay.all_tenants_unscoped.filter(tenant=tenant)
        if since:
            clicks, activity = clicks.filter(day__gte=since), activity.filter(day__gte=since)
            programs = programs.filter(day__gte=since)
            channels = channels.filter(day__gte=since)
        # Whole weeks and months: from the Monday of the first month rebuilt.
        period_since = span_start("week", span_start("month", since)) if since else None
        periods = PartnerPeriod.all_tenants_unscoped.filter(tenant=tenant)
        if period_since:
            periods = periods.filter(start__gte=period_since)
        # Whole months: from the first day of the month of ``since``.
        month_since = span_start("month", since) if since else date(1970, 1, 1)
        active = PartnerActivity.all_tenants_unscoped.filter(tenant=tenant, month__gte=month_since)
        for rows in (clicks, activity, programs, channels, periods, active):
            rows._raw_delete(rows.db)
        cursor.execute(sql.CLICKS_REBUILD, params)
        click_rows = cursor.rowcount
        cursor.execute(sql.activity_insert(buckets=False), params)
        activity_rows = cursor.rowcount
        day_params = {"tenant": str(tenant.pk), "since": since or date(1970, 1, 1)}
        cursor.execute(sql.PROGRAM_CLICKS_REBUILD, day_params)
        cursor.execute(sql.CHANNEL_CLICKS_REBUILD, day_params)
        _program_days(cursor, day_params, sql.DAYS_SINCE)
        span_params = {"tenant": str(tenant.pk), "since": period_since or date(1970, 1, 1)}
        cursor.execute(sql.PERIOD_CLICKS_REBUILD, span_params)
        cursor.execute(sql.PERIOD_ACTIVITY_REBUILD, span_params)
        cursor.execute(sql.ACTIVE_REBUILD, {"tenant": str(tenant.pk), "since": month_since})
        pending = AnalyticsChange.all_tenants_unscoped.filter(tenant=tenant)
        if since:
            pending = pending.filter(day__gte=since)
        pending._raw_delete(pending.db)
        # Fresh statistics: with the old ones (a table emptied and refilled) the planner
        # took a day-range scan for a handful of partners' rows: 280 ms instead of 3.
        cursor.execute(
            "ANALYZE programs_clickday, programs_activityday, programs_programday, "
            "programs_channelday, programs_partnerperiod, programs_partneractivity"
        )
    return {"clicks": click_rows, "activity": activity_rows}


def drain_all() -> int:
    """Periodic: drain every tenant whose changes waited more than a minute (their job
    was lost, or is still queued behind others)."""
    from prm.tenancy import tenant_scope
    from programs.models.rollup import AnalyticsChange

    cutoff = timezone.now() - timedelta(minutes=1)
    # Cross-tenant by nature: the sweeper looks for any tenant left behind.
    tenant_ids = set(
        AnalyticsChange.all_tenants_unscoped.filter(created_at__lt=cutoff)
        .values_list("tenant_id", flat=True)
        .distinct()[:100]
    )
    done = 0
    for tenant in Tenant.objects.filter(pk__in=tenant_ids):
        with tenant_scope(tenant):
            done += rollup_drain()
    return done
