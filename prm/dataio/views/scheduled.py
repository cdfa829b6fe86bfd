"""Console: scheduled exports (a list delivered daily, weekly or monthly)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from prm.access import can, get_in_tenant_or_404, staff_required
from prm.dataio.forms import ScheduledExportForm
from prm.dataio.models import ScheduledExport, ScheduledRun
from prm.dataio.registry import all_sources
from prm.dataio.services import schedule_create, schedule_delete
from prm.permissions import Perm
from prm.post_only import post_only


def _sources(request: HttpRequest) -> list:  # type: ignore[type-arg]
    return [s for s in all_sources() if can(request, s.perm)]


@staff_required(Perm.SCHEDULED_EXPORTS_VIEW)
def schedule_list(request: HttpRequest) -> HttpResponse:
    return _page(request, None)


def _page(request: HttpRequest, form: ScheduledExportForm | None) -> HttpResponse:
    can_write = can(request, Perm.SCHEDULED_EXPORTS_MANAGE)
    if can_write and form is None:
        initial = {
            "source": request.GET.get("source", ""),
            "params": request.GET.get("params", ""),
            "format": "csv",
            "frequency": ScheduledExport.Frequency.WEEKLY,
            "delivery": ScheduledExport.Delivery.EMAIL_ATTACHMENT,
            "recipients": request.user.email,  # type: ignore[union-attr]
        }
        form = ScheduledExportForm(initial=initial, sources=_sources(request))
    schedules = list(ScheduledExport.objects.select_related("created_by"))
    last_runs = {
        run.schedule_id: run
        for run in ScheduledRun.objects.filter(schedule__in=schedules).order_by("created_at")
    }
    titles = {s.key: s.title for s in all_sources()}
    rows = [(s, titles.get(s.source, s.source), last_runs.get(s.pk)) for s in schedules]
    context = {"rows": rows, "form": form if can_write else None, "can_write": can_write}
    return render(request, "console/dataio/scheduled.html", context)


@staff_required(Perm.SCHEDULED_EXPORTS_MANAGE)
@post_only
def schedule_add(request: HttpRequest) -> HttpResponse:
    form = ScheduledExportForm(request.POST, sources=_sources(request))
    if not form.is_valid():
        return _page(request, form)
    schedule_create(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        data=form.cleaned_data,
        request=request,
    )
    messages.success(request, _("Scheduled. The first file goes out within the hour."))
    return redirect("console:scheduled_exports")


@staff_required(Perm.SCHEDULED_EXPORTS_MANAGE)
@post_only
def schedule_remove(request: HttpRequest, schedule_id: str) -> HttpResponse:
    schedule = get_in_tenant_or_404(ScheduledExport, pk=schedule_id)
    schedule_delete(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        schedule=schedule,
        request=request,
    )
    messages.success(request, _("The scheduled export was removed."))
    return redirect("console:scheduled_exports")
