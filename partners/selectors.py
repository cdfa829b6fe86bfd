"""Reads of the console's partner list (the list and its export share them)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import QueryDict

from partners.models import PartnerProfile


def partner_filters(params: QueryDict) -> dict[str, str]:
    # PostgreSQL refuses NUL in text (a DataError, i.e. a 500); no stored value has one.
    q = params.get("q", "").replace("\x00", "").strip()
    status = params.get("status", "")
    return {"q": q, "status": status if status in PartnerProfile.Status.values else ""}


def partners_filtered(*, q: str = "", status: str = "") -> QuerySet[PartnerProfile]:
    partners = PartnerProfile.objects.select_related("user")
    if q:
        partners = partners.filter(
            Q(user__email__icontains=q) | Q(display_name__icontains=q) | Q(company__icontains=q)
        )
    if status:
        partners = partners.filter(status=status)
    return partners
