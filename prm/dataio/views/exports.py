"""Console: ``<list URL>export/?format=…&<the list's filters>`` and big exports' pages."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from prm.access import can, get_in_tenant_or_404, staff_required
from prm.dataio.exports import FORMATS, export_audit, export_start, stored_chunks
from prm.dataio.models import ExportFile
from prm.dataio.registry import ExportSource, source_for
from prm.dataio.writers import CONTENT_TYPES, chunks
from prm.permissions import Perm


def _source(request: HttpRequest, key: str) -> ExportSource:
    source = source_for(key)
    if source is None:
        raise Http404("no such list")
    if not can(request, source.perm):
        raise PermissionDenied(f"may not read {key}")
    return source


def _attachment(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


def _query(request: HttpRequest) -> str:
    params = request.GET.copy()
    for key in ("format", "page"):
        params.pop(key, None)
    return params.urlencode()


@staff_required(Perm.CONSOLE_VIEW)
def export(request: HttpRequest, source: str, **url_kwargs: Any) -> HttpResponse:
    """The list's current filtered rows (every page) as CSV, XLSX or JSON: streamed, or
    past PRM_EXPORT_STREAM_ROWS rows written by a job (the page shows its progress)."""
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    export_source = _source(request, source)
    fmt = request.GET.get("format", "csv")
    if fmt not in FORMATS:
        fmt = "csv"
    kwargs = {key: str(value) for key, value in url_kwargs.items()}
    table = export_source.table(request.GET, kwargs, lambda perm: can(request, perm))
    total = table.count()
    tenant = request.tenant  # type: ignore[attr-defined]
    params = _query(request)
    if total > settings.PRM_EXPORT_STREAM_ROWS:
        # A GET may be repeated (a reload, a double click, a page that links here): the
        # same export already being written is not started twice.
        running = ExportFile.objects.filter(
            requested_by=request.user,
            source=export_source.key,
            params=params[:2000],
            url_kwargs=kwargs,
            format=fmt,
            status__in=[ExportFile.Status.QUEUED, ExportFile.Status.RUNNING],
        ).first()
        if running is not None:
            return redirect("console:export_detail", export_id=running.pk)
        job = export_start(
            tenant=tenant,
            actor=request.user,  # type: ignore[arg-type]
            source=export_source,
            fmt=fmt,
            params=params,
            url_kwargs=kwargs,
            total=total,
        )
        export_audit(
            tenant=tenant,
            actor=request.user,  # type: ignore[arg-type]
            source=export_source,
            fmt=fmt,
            params=params,
            rows=total,
            how="job",
            request=request,
        )
        return redirect("console:export_detail", export_id=job.pk)
    export_audit(
        tenant=tenant,
        actor=request.user,  # type: ignore[arg-type]
        source=export_source,
        fmt=fmt,
        params=params,
        rows=total,
        how="download",
        request=request,
    )
    response = StreamingHttpResponse(
        chunks(fmt, table.header, table.rows, title=export_source.key),
        content_type=CONTENT_TYPES[fmt],
    )
    return _attachment(response, export_source.filename(fmt))


def _export_file(request: HttpRequest, export_id: str) -> ExportFile:
    export = get_in_tenant_or_404(ExportFile.objects.select_related("requested_by"), pk=export_id)
    if not can(request, Perm(export.perm)):
        raise PermissionDenied("may not read this list")
    return export


@staff_required(Perm.CONSOLE_VIEW)
def export_detail(request: HttpRequest, export_id: str) -> HttpResponse:
    """A big export: its progress while the job writes it, then the download link."""
    export = _export_file(request, export_id)
    source = source_for(export.source)
    context = {
        "export": export,
        "source": source,
        "running": export.status in (ExportFile.Status.QUEUED, ExportFile.Status.RUNNING),
        "expired": export.expires_at < timezone.now(),
    }
    return render(request, "console/dataio/export.html", context)


@staff_required(Perm.CONSOLE_VIEW)
def export_download(request: HttpRequest, export_id: str) -> HttpResponse:
    export = _export_file(request, export_id)
    if export.status != ExportFile.Status.DONE or export.expires_at < timezone.now():
        return redirect("console:export_detail", export_id=export.pk)
    response = StreamingHttpResponse(
        stored_chunks(export), content_type=CONTENT_TYPES[export.format]
    )
    response["Content-Length"] = str(export.size)
    return _attachment(response, export.filename)
