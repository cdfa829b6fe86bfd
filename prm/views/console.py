"""Console home: the Overview dashboard (or the getting-started checklist)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from prm.access import staff_required
from prm.models import AuditEntry
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
    steps = board.checklist()
    context = {
        "form": form,
        "period": period,
        "steps": steps,
        "steps_left": sum(1 for s in steps if not s["done"]),
        "show_money": role_has(role, Perm.MONEY_VIEW),
        "show_audit": role_has(role, Perm.AUDIT_VIEW),
        "recent": AuditEntry.objects.select_related("actor")[:5],
    }
    if board.has_activity():
        figures = board.figures(tenant, period)
        if not context["show_money"]:
            for name in MONEY_SERIES:
                figures["chart"].pop(name)
            figures["cards"] = [card for card in figures["cards"] if not card.money]
        context.update(figures)
        context["period_query"] = period.query()
    return render(request, "console/dashboard.html", context)
