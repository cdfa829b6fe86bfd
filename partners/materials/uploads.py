"""Uploads of materials, checked by content, never by name or the browser's type.

Banners go through ``prm.images.clean_image`` (Pillow decodes them; SVG and anything
that is not a raster image are refused; what is kept is re-encoded, metadata dropped)
and get a thumbnail. Files must be PDF or ZIP by their first bytes (and a ZIP must open
as one)."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image

from prm.images import clean_image

MAX_IMAGE_BYTES = 2 * 1024 * 1024
MAX_FILE_BYTES = 20 * 1024 * 1024
THUMB_SIDE = 320


@dataclass(frozen=True)
class CleanFile:
    content: bytes
    content_type: str
    name: str  # what a download is called: the upload's name, made safe, our extension
    width: int | None = None
    height: int | None = None
    thumbnail: bytes = b""


def safe_name(name: str, extension: str) -> str:
    stem = (name or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1].rsplit(".", 1)[0]
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:60] or "material"
    return f"{stem}.{extension}"


def clean_banner(upload: UploadedFile) -> CleanFile:
    image = clean_image(upload, max_bytes=MAX_IMAGE_BYTES)
    with Image.open(io.BytesIO(image.content)) as pixels:
        pixels.thumbnail((THUMB_SIDE, THUMB_SIDE))
        out = io.BytesIO()
        pixels.convert("RGBA").save(out, format="PNG", optimize=True)
    return CleanFile(
        content=image.content,
        content_type=image.content_type,
        name=safe_name(upload.name or "", image.extension),
        width=image.width,
        height=image.height,
        thumbnail=out.getvalue(),
    )


def clean_document(upload: UploadedFile) -> CleanFile:
    if upload.size is not None and upload.size > MAX_FILE_BYTES:
        raise ValidationError(
            _("The file is %(size)s; the limit is %(limit)s.")
            % {"size": filesizeformat(upload.size), "limit": filesizeformat(MAX_FILE_BYTES)},
            code="too_big",
        )
    upload.seek(0)
    data = upload.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(
            _("The file is larger than %(limit)s.") % {"limit": filesizeformat(MAX_FILE_BYTES)},
            code="too_big",
        )
    if data.startswith(b"%PDF-"):
        return CleanFile(data, "application/pdf", safe_name(upload.name or "", "pdf"))
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                archive.infolist()
        except (zipfile.BadZipFile, ValueError, OSError):
            raise ValidationError(
                _("This ZIP archive is damaged and cannot be opened."), code="bad_zip"
            ) from None
        return CleanFile(data, "application/zip", safe_name(upload.name or "", "zip"))
    raise ValidationError(
        _("Only PDF and ZIP files are accepted (checked by their content, not their name)."),
        code="not_document",
    )
