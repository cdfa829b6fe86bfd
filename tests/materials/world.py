"""A banner material for the role matrix and the phone-width walk."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from partners.materials.demo import banner_png
from partners.materials.models import Material
from partners.materials.services import material_save
from partners.materials.uploads import clean_banner
from prm.models import Tenant, User
from prm.tenancy import tenant_scope


def build(tenant: Tenant, actor: User) -> dict[str, str]:
    with tenant_scope(tenant):
        material = material_save(
            tenant=tenant,
            actor=actor,
            material=Material(kind=Material.Kind.BANNER, title="Matrix banner", folder="Banners"),
            upload=clean_banner(SimpleUploadedFile("b.png", banner_png())),
        )
    return {"material_id": str(material.pk)}
