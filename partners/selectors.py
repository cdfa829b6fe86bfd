"""Reads of the partner list (the list and its export share them) and of the partner
page (bounded counts over indexed queries)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from partners.models import PartnerProfile, SignupQuestion
from prm.models import AuditEntry

# Counts stop here ("10,000+"): a partner page never scans a partner's whole history.
COUNT_CAP = 10_000


def bounded_count(queryset: QuerySet[Any]) -> tuple[int, bool]:
    """``(count, capped)``: COUNT over at most COUNT_CAP + 1 rows."""
    n = queryset.order_by()[: COUNT_CAP + 1].count()
    return min(n, COUNT_CAP), n > COUNT_CAP


def partner_stats(partner: PartnerProfile) -> list[dict[str, Any]]:
    """Clicks (30 days and all), leads and conversions, each bounded."""
    from programs.models import Click, Conversion, Lead

    since = timezone.now() - timedelta(days=30)
    rows = [
        ("clicks_30", Click.objects.filter(partner=partner, created_at__gte=since)),
        ("clicks", Click.objects.filter(partner=partner)),
        ("leads", Lead.objects.filter(partner=partner)),
        (
            "conversions",
            Conversion.objects.filter(partner=partner, status=Conversion.Status.ATTRIBUTED),
        ),
    ]
    out = []
    for key, queryset in rows:
        n, capped = bounded_count(queryset)
        out.append({"key": key, "count": n, "capped": capped})
    return out


def partner_history(partner: PartnerProfile) -> QuerySet[AuditEntry]:
    """The audit rows about this partner (index audit_object)."""
    return AuditEntry.objects.filter(object_type="partnerprofile", object_id=str(partner.pk))


def application_answers(partner: PartnerProfile) -> list[tuple[SignupQuestion, str]]:
    details = partner.details or {}
    return [
        (q, details.get(str(q.pk), ""))
        for q in SignupQuestion.objects.all()
        if str(q.pk) in details or q.is_active
    ]


def _valid_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value)) if value else ""
    except ValueError:
        return ""


def partner_filters(params: QueryDict) -> dict[str, object]:
    """The partner list's filters from its query string (the list and its export)."""
    # PostgreSQL refuses NUL in text (a DataError, i.e. a 500); no stored value has one.
    q = params.get("q", "").replace("\x00", "").strip()
    status = params.get("status", "")
    return {
        "q": q,
        "status": status if status in PartnerProfile.Status.values else "",
        "tag": _valid_uuid(params.get("tag", "")),
        "group": _valid_uuid(params.get("group", "")),
        "risky": params.get("risky") == "1",
    }


def partners_filtered(
    *, q: str = "", status: str = "", tag: str = "", group: str = "", risky: bool = False
) -> QuerySet[PartnerProfile]:
    partners = PartnerProfile.objects.select_related("user", "group").order_by("-created_at", "-pk")
    if q:
        partners = partners.filter(
            Q(user__email__icontains=q) | Q(display_name__icontains=q) | Q(company__icontains=q)
        )
    if status:
        partners = partners.filter(status=status)
    if tag:
        partners = partners.filter(taggings__tag_id=tag)
    if group:
        partners = partners.filter(group_id=group)
    if risky:  # the tenant's review threshold (README "Antifraud")
        from antifraud.selectors import review_threshold

        partners = partners.filter(risk_score__gte=review_threshold())
    return partners
