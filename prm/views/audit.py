"""Console: the audit log with filters."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from prm.access import staff_required
from prm.forms import AuditFilterForm
from prm.models import AuditEntry
from prm.pagination import page_of
from prm.permissions import Perm

PAGE_SIZE = 50


def filtered_entries(params: QueryDict) -> tuple[AuditFilterForm, QuerySet[AuditEntry]]:
    """The audit list's rows for its query string (the list and its export)."""
    form = AuditFilterForm(params or None)
    entries = AuditEntry.objects.select_related("actor").order_by("-created_at", "-pk")
    if form.is_valid():
        data = form.cleaned_data
        if data["action"]:
            entries = entries.filter(action__startswith=data["action"])
        if data["actor"]:
            entries = entries.filter(actor_email__icontains=data["actor"])
        if data["object_type"]:
            entries = entries.filter(object_type=data["object_type"])
        if data["since"]:
            entries = entries.filter(created_at__date__gte=data["since"])
        if data["until"]:
            entries = entries.filter(created_at__date__lte=data["until"])
    return form, entries


@staff_required(Perm.AUDIT_VIEW)
def audit_list(request: HttpRequest) -> HttpResponse:
    form, entries = filtered_entries(request.GET)
    page = page_of(entries, request, PAGE_SIZE)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "console/audit.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
        },
    )
