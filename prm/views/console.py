"""Console home."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from partners.models import PartnerProfile
from prm.access import staff_required
from prm.models import AuditEntry, Membership


@staff_required()
def dashboard(request: HttpRequest) -> HttpResponse:
    partner_counts = {
        row["status"]: row["n"]
        for row in PartnerProfile.objects.values("status").annotate(n=Count("id"))
    }
    context = {
        "team_size": Membership.objects.count(),
        "partners_active": partner_counts.get(PartnerProfile.Status.ACTIVE, 0),
        "partners_pending": partner_counts.get(PartnerProfile.Status.PENDING, 0),
        "recent": AuditEntry.objects.select_related("actor")[:5],
    }
    return render(request, "console/dashboard.html", context)
