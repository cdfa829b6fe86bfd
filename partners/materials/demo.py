"""Demo materials (``make run``): a banner, a text snippet, a PDF and a link."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw

from partners.materials.models import Material
from partners.materials.services import material_save
from partners.materials.uploads import clean_banner, clean_document
from prm.models import Tenant, User
from programs.models import Program

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 144]/Contents 4 0 R"
    b"/Resources<</Font<</F1<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>>>>>>>endobj\n"
    b"4 0 obj<</Length 52>>stream\nBT /F1 18 Tf 20 70 Td (Acme Pro: the one-pager) Tj ET\n"
    b"endstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def banner_png(width: int = 468, height: int = 60, text: str = "Acme Pro - try it free") -> bytes:
    image = Image.new("RGB", (width, height), (79, 70, 229))
    ImageDraw.Draw(image).text((16, height // 2 - 6), text, fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def load(tenant: Tenant, program: Program, actor: User | None) -> None:
    """Idempotent: run inside the tenant's scope."""
    if actor is None or Material.objects.exists():
        return
    banner = clean_banner(SimpleUploadedFile("acme-pro-468x60.png", banner_png()))
    pdf = clean_document(SimpleUploadedFile("acme-pro-one-pager.pdf", PDF))
    rows = [
        (
            Material(
                kind=Material.Kind.BANNER,
                title="Acme Pro banner 468×60",
                folder="Banners",
                audience=Material.Audience.PROGRAM,
                program=program,
            ),
            banner,
        ),
        (
            Material(
                kind=Material.Kind.TEXT,
                text_kind=Material.TextKind.SOCIAL,
                title="Social post",
                folder="Texts",
                body=(
                    "I run my team on Acme Pro. Try it through my link: {link} "
                    "and take 10% off with the code {promo_code}. — {partner_name}"
                ),
            ),
            None,
        ),
        (
            Material(
                kind=Material.Kind.FILE,
                title="Acme Pro one-pager (PDF)",
                description="Print it or attach it to your e-mails.",
                folder="Files",
            ),
            pdf,
        ),
        (
            Material(
                kind=Material.Kind.LINK,
                title="Pricing page",
                folder="Links",
                landing_url=program.default_landing_url.rstrip("/") + "/pricing"
                if program.default_landing_url
                else "",
            ),
            None,
        ),
    ]
    for material, upload in rows:
        if material.kind == Material.Kind.LINK and not material.landing_url:
            continue
        material_save(tenant=tenant, actor=actor, material=material, upload=upload)
