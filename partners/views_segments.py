"""Console: automatic segments (list, form with a preview, run now) and the partners
list's bulk actions (tag, untag, move to a group)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from partners.forms_people import BulkForm, SegmentForm
from partners.models import PartnerSegment
from partners.people import groups_move, tags_assign, tags_unassign
from partners.segments import preview, segment_save_audit
from prm.access import can, get_in_tenant_or_404, staff_required
from prm.jobs import job_enqueue
from prm.permissions import Perm
from prm.post_only import post_only
from prm.redirects import next_or


@staff_required(Perm.PARTNERS_VIEW)
@require_http_methods(["GET"])
def segment_list(request: HttpRequest) -> HttpResponse:
    segments = PartnerSegment.objects.select_related("tag", "group").order_by("name")[:200]
    return render(
        request,
        "console/partners/segments.html",
        {"segments": segments, "can_manage": can(request, Perm.SEGMENTS_MANAGE)},
    )


@staff_required(Perm.SEGMENTS_MANAGE)
@require_http_methods(["GET", "POST"])
def segment_create(request: HttpRequest) -> HttpResponse:
    return _segment_form(request, PartnerSegment())


@staff_required(Perm.SEGMENTS_MANAGE)
@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, segment_id: str) -> HttpResponse:
    return _segment_form(request, get_in_tenant_or_404(PartnerSegment, pk=segment_id))


def _segment_form(request: HttpRequest, segment: PartnerSegment) -> HttpResponse:
    may_move = can(request, Perm.GROUPS_MANAGE)
    if not may_move and segment.group_id:
        messages.error(
            request, _("Only those who may move partners between groups edit this segment.")
        )
        return redirect("console:segments")
    form = SegmentForm(request.POST or None, instance=segment, may_move=may_move)
    context: dict[str, object] = {"form": form, "segment": segment}
    if request.method == "POST" and form.is_valid():
        if "preview" in request.POST:
            count, first = preview(form.instance)
            context.update(preview_count=count, preview_first=first)
        else:
            form.instance.tenant = request.tenant  # type: ignore[attr-defined]
            saved = form.save()
            segment_save_audit(
                tenant=request.tenant,  # type: ignore[attr-defined]
                actor=request.user,
                segment=saved,
                request=request,
            )
            messages.success(
                request, _("Segment %s saved; it is applied within the hour.") % saved.name
            )
            return redirect("console:segments")
    return render(request, "console/partners/segment_form.html", context)


@staff_required(Perm.SEGMENTS_MANAGE)
@post_only
def segment_run(request: HttpRequest, segment_id: str) -> HttpResponse:
    """Apply every segment of the workspace now (a job), instead of at the next hour."""
    get_in_tenant_or_404(PartnerSegment, pk=segment_id)
    tenant = request.tenant  # type: ignore[attr-defined]
    job_enqueue("partners.segments.segments_run", tenant=tenant, tenant_id=str(tenant.pk))
    messages.success(request, _("The segments are being applied."))
    return redirect("console:segments")


@staff_required(Perm.PARTNERS_MANAGE)
@post_only
def partners_bulk(request: HttpRequest) -> HttpResponse:
    form = BulkForm(request.POST, may_move=can(request, Perm.GROUPS_MANAGE))
    back = next_or(request, "/manage/partners/", within="/manage/partners/")
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    data = form.cleaned_data
    common = {
        "tenant": request.tenant,  # type: ignore[attr-defined]
        "actor": request.user,
        "partners": list(data["partners"]),
        "request": request,
    }
    if data["action"] == "group":
        n = groups_move(group=data.get("group"), **common)  # type: ignore[arg-type]
    elif data["action"] == "untag":
        n = tags_unassign(tag=data["tag"], **common)  # type: ignore[arg-type]
    else:
        n = tags_assign(tag=data["tag"], **common)  # type: ignore[arg-type]
    messages.success(request, _("Partners changed: %d.") % n)
    return redirect(back)
