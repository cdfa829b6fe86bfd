"""Cabinet: the materials a partner may use, with their own link and promo code filled
in; downloads and copies are counted. Public: a banner's image (partners embed it)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from partners.materials import services
from partners.materials.models import Material
from partners.materials.views import file_response
from prm.access import get_in_tenant_or_404
from programs.models import Enrollment, PromoCode
from programs.views.cabinet import active_partner_required

PAGE_SIZE = 30


@active_partner_required
@require_http_methods(["GET"])
def materials(request: HttpRequest) -> HttpResponse:
    from django.core.paginator import Paginator

    partner = request.partner  # type: ignore[attr-defined]
    tenant = request.tenant  # type: ignore[attr-defined]
    enrollments = list(
        Enrollment.objects.filter(partner=partner, status=Enrollment.Status.ACTIVE)
        .select_related("program")
        .order_by("program__name", "pk")
    )
    by_program = {e.program_id: e for e in enrollments}
    chosen = next(
        (e for e in enrollments if str(e.program_id) == request.GET.get("program", "")),
        enrollments[0] if enrollments else None,
    )
    codes: dict[object, str] = {}
    for program_id, code in (
        PromoCode.objects.filter(partner=partner, is_active=True)
        .order_by("created_at")
        .values_list("program_id", "code")
    ):
        codes.setdefault(program_id, code)
    page = Paginator(services.visible_to(partner), PAGE_SIZE).get_page(request.GET.get("page"))
    ids = [m.pk for m in page.object_list]
    clicks = services.clicks_by_material(ids, partner)
    items = []
    for material in page.object_list:
        enrollment = by_program.get(material.program_id) if material.program_id else chosen
        image = request.build_absolute_uri(
            reverse("material_image", kwargs={"material_id": material.pk})
        )
        item = services.fill(
            material,
            tenant=tenant,
            partner=partner,
            enrollment=enrollment,
            promo_code=codes.get(enrollment.program_id, "") if enrollment else "",
            image_url=image,
        )
        item.clicks = clicks.get(material.pk, 0)
        items.append(item)
    services.materials_viewed(ids)
    return render(
        request,
        "materials/cabinet_list.html",
        {"page": page, "items": items, "enrollments": enrollments, "chosen": chosen},
    )


@active_partner_required
@require_http_methods(["GET"])
def material_download(request: HttpRequest, material_id: str) -> HttpResponse:
    partner = request.partner  # type: ignore[attr-defined]
    material = get_in_tenant_or_404(services.visible_to(partner), pk=material_id)
    if not material.has_file:
        raise Http404
    response = file_response(material, attachment=True)
    services.material_downloaded(material)
    return response


@active_partner_required
@require_http_methods(["POST"])
def material_copied(request: HttpRequest, material_id: str) -> HttpResponse:
    """The copy buttons' beacon: counts one copy."""
    partner = request.partner  # type: ignore[attr-defined]
    material = get_in_tenant_or_404(services.visible_to(partner), pk=material_id)
    services.material_copied(material)
    return JsonResponse({"ok": True})


@require_safe
def material_image(request: HttpRequest, material_id: str) -> HttpResponse:
    """A published banner's image, public: partners paste it into their own sites."""
    material = get_in_tenant_or_404(
        Material.objects.filter(is_published=True, kind=Material.Kind.BANNER), pk=material_id
    )
    response = file_response(material, attachment=False, thumbnail=request.GET.get("s") == "t")
    response["Cache-Control"] = "public, max-age=3600"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
