"""Console: import partners, leads or conversions from a file (upload → preview →
confirm), at ``<list URL>import/``."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prm.access import can, get_in_tenant_or_404, staff_required
from prm.dataio.forms import ImportForm
from prm.dataio.imports import (
    PERMS,
    FileProblem,
    columns_help,
    import_confirm,
    import_upload,
    live_progress,
)
from prm.dataio.models import ImportBatch
from prm.permissions import Perm
from prm.post_only import post_only

EXAMPLES = {"partners": "partners.csv", "leads": "leads.csv", "conversions": "conversions.csv"}


def _allowed(request: HttpRequest, kind: str) -> None:
    if not can(request, PERMS[ImportBatch.Kind(kind)]):
        raise PermissionDenied(f"may not import {kind}")


def import_perm_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """403 unless the role may import this kind (before ``post_only`` answers a GET)."""

    @wraps(view)
    def wrapper(request: HttpRequest, kind: str, **kwargs: Any) -> HttpResponse:
        _allowed(request, kind)
        return view(request, kind, **kwargs)

    return wrapper


def _batch(request: HttpRequest, kind: str, import_id: str) -> ImportBatch:
    return get_in_tenant_or_404(ImportBatch.objects.defer("content"), pk=import_id, kind=kind)


@require_http_methods(["GET", "POST"])
@staff_required(Perm.CONSOLE_VIEW)
@import_perm_required
def import_start(request: HttpRequest, kind: str) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    if kind != ImportBatch.Kind.PARTNERS:
        del form.fields["invite"]  # only partners are invited
    if request.method == "POST" and form.is_valid():
        try:
            batch = import_upload(
                tenant=request.tenant,  # type: ignore[attr-defined]
                actor=request.user,  # type: ignore[arg-type]
                kind=kind,
                upload=form.cleaned_data["file"],
                invite=form.cleaned_data.get("invite", False),
            )
        except FileProblem as exc:
            form.add_error("file", exc.message)
        else:
            return redirect(f"console:{kind}_import_detail", **{f"{kind}_import_id": batch.pk})
    context = {
        "kind": kind,
        "title": ImportBatch.Kind(kind).label,
        "form": form,
        "columns": columns_help(kind),
        "example": EXAMPLES[kind],
        "recent": ImportBatch.objects.filter(kind=kind).defer("content")[:10],
    }
    return render(request, "console/dataio/import_start.html", context)


@staff_required(Perm.CONSOLE_VIEW)
@import_perm_required
def import_detail(request: HttpRequest, kind: str, **ids: str) -> HttpResponse:
    batch = _batch(request, kind, ids[f"{kind}_import_id"])
    context = {
        "kind": kind,
        "title": ImportBatch.Kind(kind).label,
        "batch": batch,
        "result": batch.result or {},
        "progress": live_progress(batch),
    }
    return render(request, "console/dataio/import_detail.html", context)


@staff_required(Perm.CONSOLE_VIEW)
@import_perm_required
@post_only
def import_confirm_view(request: HttpRequest, kind: str, **ids: str) -> HttpResponse:
    batch = _batch(request, kind, ids[f"{kind}_import_id"])
    try:
        batch = import_confirm(batch=batch, actor=request.user)  # type: ignore[arg-type]
    except FileProblem as exc:
        messages.error(request, exc.message)
    else:
        if batch.status == ImportBatch.Status.DONE:
            messages.success(request, _("The file was imported."))
        elif batch.status == ImportBatch.Status.FAILED:
            messages.error(request, _("Nothing was imported: see the errors below."))
    return redirect(f"console:{kind}_import_detail", **{f"{kind}_import_id": batch.pk})
