"""Automatic segments: which partners match a segment's rule (one SQL query over the
partners, with a correlated aggregate per metric), the preview, and the periodic run
that tags (or moves to a group) the partners who match and untags those who no longer
do, each change audited.

Only tags a segment put there are taken away again: a tag a person set stays.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import Window
from django.db.models.functions import Cast, Coalesce, CumeDist, Greatest
from django.utils import timezone

from partners.models import PartnerProfile, PartnerSegment, PartnerTagging
from partners.signals import partners_changed
from prm.audit import audit_record
from prm.models import AuditEntry, Tenant
from prm.tenancy import tenant_scope
from programs.models import Click, Conversion

log = logging.getLogger(__name__)
PREVIEW_SIZE = 20
ZERO = Value(Decimal("0"), output_field=DecimalField(max_digits=14, decimal_places=2))


def _count(model: Any, since: Any, date_field: str, **extra: Any) -> Subquery:
    rows = (
        model.objects.filter(partner=OuterRef("pk"), **{f"{date_field}__gte": since}, **extra)
        .order_by()
        .values("partner")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def _revenue(since: Any) -> Any:
    rows = (
        Conversion.objects.filter(
            partner=OuterRef("pk"),
            occurred_at__gte=since,
            status__in=[Conversion.Status.ATTRIBUTED, Conversion.Status.REFUNDED],
        )
        .order_by()
        .values("partner")
        .annotate(total=Sum(F("amount") - F("refunded_amount")))
        .values("total")
    )
    return Coalesce(
        Subquery(rows, output_field=DecimalField(max_digits=16, decimal_places=2)), ZERO
    )


def candidates() -> QuerySet[PartnerProfile]:
    """Who segments look at: every partner whose data has not been erased."""
    return PartnerProfile.objects.filter(erased_at__isnull=True)


def matching(segment: PartnerSegment) -> QuerySet[PartnerProfile]:
    """The partners ``segment`` matches now, as one query."""
    Metric, Cmp = PartnerSegment.Metric, PartnerSegment.Comparison
    partners = candidates()
    now = timezone.now()
    if segment.metric == Metric.COUNTRY:
        return partners.filter(country=segment.country.upper())
    value = segment.value if segment.value is not None else Decimal("0")
    if segment.metric == Metric.JOINED_DAYS:
        # "joined in the last N days" is "days since joining at most N".
        cutoff = now - timedelta(days=int(value))
        lookups = {Cmp.LTE: "gte", Cmp.LT: "gt", Cmp.GTE: "lte"}
        if segment.comparison == Cmp.EQ:
            start = now - timedelta(days=int(value) + 1)
            return partners.filter(created_at__gt=start, created_at__lte=cutoff)
        lookup = lookups.get(segment.comparison, "gte")
        return partners.filter(**{f"created_at__{lookup}": cutoff})
    since = now - timedelta(days=segment.period_days or 30)
    if segment.metric == Metric.REVENUE:
        metric: Any = _revenue(since)
    elif segment.metric == Metric.CLICKS:
        metric = _count(Click, since, "created_at")
    elif segment.metric == Metric.CONVERSIONS:
        metric = _count(Conversion, since, "occurred_at", status=Conversion.Status.ATTRIBUTED)
    else:  # conversion rate, % of clicks, among partners with enough clicks
        partners = partners.annotate(
            seg_clicks=_count(Click, since, "created_at"),
            seg_conversions=_count(
                Conversion, since, "occurred_at", status=Conversion.Status.ATTRIBUTED
            ),
        ).filter(seg_clicks__gte=max(segment.min_clicks, 1))
        metric = ExpressionWrapper(
            Cast(F("seg_conversions"), FloatField())
            * 100.0
            / Greatest(Cast(F("seg_clicks"), FloatField()), Value(1.0)),
            output_field=FloatField(),
        )
    partners = partners.annotate(seg_value=metric)
    if segment.metric != Metric.CONVERSION_RATE and segment.min_clicks:
        partners = partners.annotate(seg_min=_count(Click, since, "created_at")).filter(
            seg_min__gte=segment.min_clicks
        )
    if segment.comparison == Cmp.TOP_PERCENT:
        # The top N % by the metric among those who have any: cume_dist over the value
        # in descending order (ties share a rank, so they match together).
        ranked = (
            partners.filter(seg_value__gt=0)
            .annotate(seg_rank=Window(CumeDist(), order_by=F("seg_value").desc()))
            .filter(seg_rank__lte=float(value) / 100.0)
            .values("pk")
        )
        return candidates().filter(pk__in=Subquery(ranked))
    number: Any = float(value) if segment.metric == Metric.CONVERSION_RATE else value
    lookup = {Cmp.GTE: "gte", Cmp.LTE: "lte", Cmp.LT: "lt", Cmp.EQ: "exact"}[
        PartnerSegment.Comparison(segment.comparison)
    ]
    return partners.filter(**{f"seg_value__{lookup}": number})


def preview(segment: PartnerSegment) -> tuple[int, list[PartnerProfile]]:
    """How many partners match, and the first ones (by name)."""
    found = matching(segment)
    first = list(
        candidates()
        .filter(pk__in=found.values("pk"))
        .select_related("user")
        .order_by("display_name", "pk")[:PREVIEW_SIZE]
    )
    return found.count(), first


def _audit_bulk(
    tenant: Tenant,
    segment: PartnerSegment,
    ids: list[Any],
    action: str,
    after: dict[str, Any],
    before: dict[str, Any],
) -> None:
    AuditEntry.all_tenants_unscoped.bulk_create(
        [
            AuditEntry(
                tenant=tenant,
                actor=None,
                actor_email="",
                action=action,
                object_type="partnerprofile",
                object_id=str(pk),
                object_repr="",
                before=before,
                after={**after, "segment": segment.name},
            )
            for pk in ids
        ],
        batch_size=1000,
    )


@transaction.atomic
def segment_apply(*, tenant: Tenant, segment: PartnerSegment) -> dict[str, int]:
    """Bring the segment's tag (or group) in line with who matches now."""
    segment = PartnerSegment.objects.select_for_update().get(pk=segment.pk)
    match = matching(segment).values("pk")
    added: list[Any] = []
    removed: list[Any] = []
    if segment.tag_id:
        tag = segment.tag
        assert tag is not None
        added = list(
            candidates()
            .filter(pk__in=match)
            .exclude(taggings__tag=tag)
            .values_list("pk", flat=True)
        )
        PartnerTagging.objects.bulk_create(
            [
                PartnerTagging(tenant=tenant, tag=tag, partner_id=pk, segment=segment)
                for pk in added
            ],
            ignore_conflicts=True,
        )
        stale = PartnerTagging.objects.filter(tag=tag, segment=segment).exclude(
            partner_id__in=match
        )
        removed = list(stale.values_list("partner_id", flat=True))
        PartnerTagging.objects.filter(tag=tag, segment=segment, partner_id__in=removed).delete()
        _audit_bulk(tenant, segment, added, "partner.tag_add", {"tag": tag.name}, {})
        _audit_bulk(tenant, segment, removed, "partner.tag_remove", {}, {"tag": tag.name})
        partners_changed.send(
            sender=PartnerTagging, tenant_id=tenant.pk, partner_ids=[*added, *removed]
        )
    elif segment.group_id:
        # A group segment moves matching partners in; it never moves anyone out (a
        # partner has one group, and where they came from is not known any more).
        group = segment.group
        assert group is not None
        added = list(
            candidates().filter(pk__in=match).exclude(group=group).values_list("pk", flat=True)
        )
        PartnerProfile.objects.filter(pk__in=added).update(group=group)
        _audit_bulk(tenant, segment, added, "partner.group", {"group": group.name}, {})
    count = matching(segment).count()
    PartnerSegment.objects.filter(pk=segment.pk).update(
        last_run_at=timezone.now(), last_matched=count
    )
    return {"matched": count, "added": len(added), "removed": len(removed)}


def segments_run(*, tenant_id: str) -> dict[str, int]:
    """Every active segment of one tenant (a job; re-runnable: it converges)."""
    totals = {"segments": 0, "added": 0, "removed": 0}
    for segment in PartnerSegment.objects.filter(is_active=True).select_related("tag", "group"):
        result = segment_apply(tenant=segment.tenant, segment=segment)
        totals["segments"] += 1
        totals["added"] += result["added"]
        totals["removed"] += result["removed"]
    return totals


def segments_run_all() -> int:
    """Periodic (prm/cron.py): each tenant with active segments, in its own scope."""
    # Crosses tenants on purpose: it only lists who has segments, then enters each scope.
    tenant_ids = set(
        PartnerSegment.all_tenants_unscoped.filter(is_active=True).values_list(
            "tenant_id", flat=True
        )
    )
    for tenant in Tenant.objects.filter(pk__in=tenant_ids, is_active=True):
        with tenant_scope(tenant):
            try:
                segments_run(tenant_id=str(tenant.pk))
            except Exception:
                log.exception("segments of tenant %s failed", tenant.pk)
    return len(tenant_ids)


def segment_save_audit(
    *, tenant: Tenant, actor: Any, segment: PartnerSegment, request: Any
) -> None:
    audit_record(
        tenant=tenant,
        actor=actor,
        action="partner_segment.save",
        obj=segment,
        after={
            "metric": segment.metric,
            "comparison": segment.comparison,
            "value": str(segment.value) if segment.value is not None else None,
            "country": segment.country,
            "period_days": segment.period_days,
            "min_clicks": segment.min_clicks,
            "tag": str(segment.tag) if segment.tag_id else None,
            "group": str(segment.group) if segment.group_id else None,
        },
        request=request,
    )
