"""Console home: the Overview dashboard (or the getting-started checklist)."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from partners.models import PartnerProfile
from prm.access import staff_required
from prm.models import AuditEntry, Membership
from prm.permissions import Perm, role_has
from programs.analytics import dashboard as board
from programs.analytics.periods import period_from
from programs.analytics.refresh import local_day

MONEY_SERIES = ("accrued_total", "approved_total", "paid_total")


@staff_required()
def dashboard(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    role = request.membership.role  # type: ignore[attr-defined]
    period, form = period_from(request.GET, local_day(tenant, timezone.now()))
    steps, activity = board.checklist(tenant)
    partner_counts = {
        row["status"]: row["n"]
        for row in PartnerProfile.objects.values("status").annotate(n=Count("id"))
    }
    context = {
        "team_size": Membership.objects.count(),
        "partners_active": partner_counts.get(PartnerProfile.Status.ACTIVE, 0),
        "partners_pending": partner_counts.get(PartnerProfile.Status.PENDING, 0),
        "form": form,
        "period": period,
        "steps": steps,
        "steps_left": sum(1 for s in steps if not s["done"]),
        "show_money": role_has(role, Perm.MONEY_VIEW),
        "show_audit": role_has(role, Perm.AUDIT_VIEW),
        "recent": AuditEntry.objects.select_related("actor")[:5],
    }
    if activity:
        figures = board.figures(tenant, period)
        if not context["show_money"]:
            for name in MONEY_SERIES:
                figures["chart"].pop(name)
            figures["cards"] = [card for card in figures["cards"] if not card.money]
        context.update(figures)
        context["period_query"] = period.query()
    return render(request, "console/dashboard.html", context)
