"""Console: the audit log with filters."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from prm.access import staff_required
from prm.forms import AuditFilterForm
from prm.models import AuditEntry
from prm.pagination import page_of
from prm.permissions import Perm

PAGE_SIZE = 50


@staff_required(Perm.AUDIT_VIEW)
def audit_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
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
