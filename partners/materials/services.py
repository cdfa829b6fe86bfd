"""Writes and reads of materials: save (with its checked upload), delete, usage counts,
and what a partner sees with their own link and promo code filled in."""

from __future__ import annotations

import contextlib
import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet

from partners.materials.models import Material
from partners.materials.uploads import CleanFile
from prm.audit import audit_record, snapshot
from programs import links

if TYPE_CHECKING:
    from django.http import HttpRequest

    from partners.models import PartnerProfile
    from prm.models import Tenant, User
    from programs.models import Enrollment

FIELDS = [
    "kind",
    "title",
    "description",
    "folder",
    "position",
    "audience",
    "program",
    "group",
    "is_published",
    "text_kind",
    "body",
    "landing_url",
    "file_name",
    "file_type",
    "file_size",
]


@transaction.atomic
def material_save(
    *,
    tenant: Tenant,
    actor: User,
    material: Material,
    upload: CleanFile | None = None,
    request: HttpRequest | None = None,
) -> Material:
    """Create or edit a material (already validated by MaterialForm); audited."""
    creating = material._state.adding
    before = {} if creating else snapshot(Material.objects.get(pk=material.pk), FIELDS)
    material.tenant = tenant
    if creating:
        material.created_by = actor
    old_files = []
    if material.kind not in (Material.Kind.BANNER, Material.Kind.FILE) and material.file:
        old_files = [material.file.name, material.thumbnail.name]
        material.file = material.thumbnail = ""
        material.file_name = material.file_type = ""
        material.file_size = 0
        material.width = material.height = None
    if upload is not None:
        old_files = [material.file.name, material.thumbnail.name] if material.file else []
        material.file.save(upload.name, ContentFile(upload.content), save=False)
        material.file_name = upload.name
        material.file_type = upload.content_type
        material.file_size = len(upload.content)
        material.width, material.height = upload.width, upload.height
        if upload.thumbnail:
            material.thumbnail.save("thumb.png", ContentFile(upload.thumbnail), save=False)
        else:
            material.thumbnail = ""
    material.save()
    _remove_files_after_commit(material, [n for n in old_files if n])
    audit_record(
        tenant=tenant,
        actor=actor,
        action="material.create" if creating else "material.update",
        obj=material,
        before=before,
        after=snapshot(material, FIELDS),
        request=request,
    )
    return material


@transaction.atomic
def material_delete(
    *, tenant: Tenant, actor: User, material: Material, request: HttpRequest | None = None
) -> None:
    before = snapshot(material, FIELDS)
    names = [n for n in (material.file.name, material.thumbnail.name) if n]
    audit_record(
        tenant=tenant,
        actor=actor,
        action="material.delete",
        obj=material,
        before=before,
        request=request,
    )
    material.delete()
    _remove_files_after_commit(material, names)


def _remove_files_after_commit(material: Material, names: list[str]) -> None:
    if not names:
        return
    storage = material.file.storage

    def remove() -> None:
        for name in names:
            with contextlib.suppress(OSError):  # already gone: nothing to free
                storage.delete(name)

    transaction.on_commit(remove)


# Usage: one UPDATE each, counted on the row.


def materials_viewed(ids: list[Any]) -> None:
    if ids:
        Material.objects.filter(pk__in=ids).update(views=F("views") + 1)


def material_copied(material: Material) -> None:
    Material.objects.filter(pk=material.pk).update(copies=F("copies") + 1)


def material_downloaded(material: Material) -> None:
    Material.objects.filter(pk=material.pk).update(downloads=F("downloads") + 1)


def clicks_by_material(ids: list[Any], partner: PartnerProfile | None = None) -> dict[Any, int]:
    from programs.models import Click

    clicks = Click.objects.filter(material_id__in=ids, status=Click.Status.ACCEPTED)
    if partner is not None:
        clicks = clicks.filter(partner=partner)
    rows = clicks.values("material_id").annotate(n=Count("id")).values_list("material_id", "n")
    return dict(rows)


# What a partner sees.


def visible_to(partner: PartnerProfile) -> QuerySet[Material]:
    """Published materials for everyone, for a program the partner is active in, or for
    the partner's group."""
    from programs.models import Enrollment

    programs = Enrollment.objects.filter(partner=partner, status=Enrollment.Status.ACTIVE).values(
        "program_id"
    )
    audience = Q(audience=Material.Audience.EVERYONE) | Q(
        audience=Material.Audience.PROGRAM, program_id__in=programs
    )
    if partner.group_id:
        audience |= Q(audience=Material.Audience.GROUP, group_id=partner.group_id)
    return Material.objects.filter(audience, is_published=True).order_by(
        "folder", "position", "title"
    )


@dataclass
class Filled:
    """A material as one partner sees it, through one of their enrollments."""

    material: Material
    link: str
    promo_code: str
    text: str
    banner_html: str
    clicks: int = 0


def fill(
    material: Material,
    *,
    tenant: Tenant,
    partner: PartnerProfile,
    enrollment: Enrollment | None,
    promo_code: str,
    image_url: str,
) -> Filled:
    link = ""
    if enrollment is not None:
        link = links.with_params(
            links.platform_link(
                tenant, enrollment.program, enrollment.code, to=material.landing_url
            ),
            {"m": str(material.pk)},
        )
    values = {"link": link, "promo_code": promo_code, "partner_name": str(partner)}
    text = material.body
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    banner = ""
    if material.has_image:
        size = ""
        if material.width and material.height:
            size = f' width="{material.width}" height="{material.height}"'
        banner = (
            f'<a href="{html.escape(link)}"><img src="{html.escape(image_url)}" '
            f'alt="{html.escape(material.title)}"{size}></a>'
        )
    return Filled(material, link, promo_code, text, banner)


def partner_clicks_by_material(
    tenant: Tenant, partner: PartnerProfile, start: Any, end: Any, limit: int = 20
) -> list[dict[str, Any]]:
    """The partner's accepted clicks through materials' links in [start, end] (local
    days), per material, most first: the cabinet's stats table."""
    from datetime import timedelta

    from programs.analytics.refresh import day_start
    from programs.models import Click

    rows = list(
        Click.objects.filter(
            partner=partner,
            status=Click.Status.ACCEPTED,
            material_id__isnull=False,
            created_at__gte=day_start(tenant, start),
            created_at__lt=day_start(tenant, end + timedelta(1)),
        )
        .values("material_id")
        .annotate(n=Count("id"))
        .order_by("-n", "material_id")[:limit]
    )
    titles = dict(
        Material.objects.filter(pk__in=[r["material_id"] for r in rows]).values_list("pk", "title")
    )
    return [
        {"title": titles[r["material_id"]], "clicks": r["n"]}
        for r in rows
        if r["material_id"] in titles  # a deleted material's (or a forged marker's) clicks
    ]
