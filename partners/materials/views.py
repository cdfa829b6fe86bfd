"""Console: the materials library (list with filters, create, edit, delete, usage and
clicks per material)."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from partners.materials import services
from partners.materials.forms import MaterialForm
from partners.materials.models import Material
from prm.access import can, get_in_tenant_or_404, staff_required
from prm.permissions import Perm
from prm.post_only import post_only
from programs.models import Click, Program

PAGE_SIZE = 50


@staff_required(Perm.MATERIALS_VIEW)
@require_http_methods(["GET"])
def material_list(request: HttpRequest) -> HttpResponse:
    rows = Material.objects.select_related("program", "group")
    kind = request.GET.get("kind", "")
    if kind in Material.Kind.values:
        rows = rows.filter(kind=kind)
    folder = request.GET.get("folder", "")[:80]
    if folder:
        rows = rows.filter(folder=folder)
    program = request.GET.get("program", "")
    if program:
        try:
            rows = rows.filter(audience=Material.Audience.PROGRAM, program_id=uuid.UUID(program))
        except ValueError:  # a malformed id filters to nothing
            rows = rows.none()
    q = request.GET.get("q", "").strip()[:100]
    if q:
        rows = rows.filter(Q(title__icontains=q) | Q(description__icontains=q))
    page = Paginator(rows.order_by("folder", "position", "title", "pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    clicks = services.clicks_by_material([m.pk for m in page.object_list])
    for material in page.object_list:
        material.clicks = clicks.get(material.pk, 0)  # type: ignore[attr-defined]
    folders = (
        Material.objects.exclude(folder="")
        .values_list("folder", flat=True)
        .distinct()
        .order_by("folder")[:200]
    )
    return render(
        request,
        "materials/console_list.html",
        {
            "page": page,
            "kinds": Material.Kind.choices,
            "folders": list(folders),
            "programs": Program.objects.order_by("name")[:200],
            "filters": {"kind": kind, "folder": folder, "program": program, "q": q},
            "query": urlencode(
                {
                    k: v
                    for k, v in (("kind", kind), ("folder", folder), ("program", program), ("q", q))
                    if v
                }
            ),
            "can_manage": can(request, Perm.MATERIALS_MANAGE),
        },
    )


@staff_required(Perm.MATERIALS_MANAGE)
@require_http_methods(["GET", "POST"])
def material_create(request: HttpRequest) -> HttpResponse:
    return _form(request, Material())


@staff_required(Perm.MATERIALS_MANAGE)
@require_http_methods(["GET", "POST"])
def material_edit(request: HttpRequest, material_id: str) -> HttpResponse:
    return _form(request, get_in_tenant_or_404(Material, pk=material_id))


def _form(request: HttpRequest, material: Material) -> HttpResponse:
    form = MaterialForm(request.POST or None, request.FILES or None, instance=material)
    if request.method == "POST" and form.is_valid():
        saved = services.material_save(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            material=form.save(commit=False),
            upload=form.clean_upload_result,
            request=request,
        )
        messages.success(request, _("Material %s saved.") % saved.title)
        return redirect("console:material_detail", material_id=saved.pk)
    return render(request, "materials/console_form.html", {"form": form, "material": material})


@staff_required(Perm.MATERIALS_VIEW)
@require_http_methods(["GET"])
def material_detail(request: HttpRequest, material_id: str) -> HttpResponse:
    material = get_in_tenant_or_404(
        Material.objects.select_related("program", "group"), pk=material_id
    )
    clicks = Click.objects.filter(material_id=material.pk, status=Click.Status.ACCEPTED)
    by_partner = (
        clicks.exclude(partner=None)
        .values("partner_id", "partner__display_name", "partner__user__email")
        .annotate(n=Count("id"))
        .order_by("-n", "partner_id")[:20]
    )
    return render(
        request,
        "materials/console_detail.html",
        {
            "material": material,
            "clicks": clicks.count(),
            "by_partner": by_partner,
            "can_manage": can(request, Perm.MATERIALS_MANAGE),
        },
    )


@staff_required(Perm.MATERIALS_MANAGE)
@post_only
def material_delete(request: HttpRequest, material_id: str) -> HttpResponse:
    material = get_in_tenant_or_404(Material, pk=material_id)
    title = material.title
    services.material_delete(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        material=material,
        request=request,
    )
    messages.success(request, _("Material %s deleted.") % title)
    return redirect("console:materials")


@staff_required(Perm.MATERIALS_VIEW)
@require_http_methods(["GET"])
def material_file(request: HttpRequest, material_id: str) -> HttpResponse:
    """The stored file, for staff to check what partners get (not counted)."""
    material = get_in_tenant_or_404(Material, pk=material_id)
    thumbnail = request.GET.get("s") == "t"
    return file_response(
        material, attachment=material.kind == Material.Kind.FILE, thumbnail=thumbnail
    )


def file_response(material: Material, *, attachment: bool, thumbnail: bool = False) -> HttpResponse:
    field = material.thumbnail if thumbnail else material.file
    kind = "image/png" if thumbnail else material.file_type
    if not field or kind not in ("image/png", "image/jpeg", "application/pdf", "application/zip"):
        raise Http404
    try:
        handle = field.storage.open(field.name, "rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    response = FileResponse(
        handle,
        content_type=kind,
        as_attachment=attachment,
        filename=material.file_name or "material",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
