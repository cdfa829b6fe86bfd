"""Uploaded images (branding logos and favicons), checked by content, not by name.

An upload is opened with Pillow: anything Pillow cannot read as PNG, JPEG, WebP, GIF or
ICO is refused, and so is SVG (a script carrier; no maintained SVG sanitiser is in our
stack, so we do not try). What is kept is the image re-encoded by Pillow (PNG, or JPEG
for photos), so metadata and any bytes smuggled beside the pixels are dropped.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

READABLE = {"PNG", "JPEG", "WEBP", "GIF", "ICO"}
MAX_SIDE = 2048
# Pillow's own decompression-bomb guard, far lower than its default.
MAX_PIXELS = MAX_SIDE * MAX_SIDE

ERROR_SVG = "svg"
ERROR_TOO_BIG = "too_big"
ERROR_NOT_IMAGE = "not_image"
ERROR_TOO_LARGE_PIXELS = "too_many_pixels"


@dataclass(frozen=True)
class CleanImage:
    """An image re-encoded by us: what is stored and served."""

    content: bytes
    content_type: str
    extension: str
    width: int
    height: int


def _looks_like_svg(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith((b"<?xml", b"<svg", b"<!doctype svg", b"<!--")) or b"<svg" in text


def clean_image(upload: UploadedFile, *, max_bytes: int) -> CleanImage:
    """The upload re-encoded, or a ValidationError saying why it was refused."""
    if upload.size is not None and upload.size > max_bytes:
        raise ValidationError(
            _("The file is %(size)s; the limit is %(limit)s.")
            % {"size": filesizeformat(upload.size), "limit": filesizeformat(max_bytes)},
            code=ERROR_TOO_BIG,
        )
    upload.seek(0)
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:  # a size the client lied about
        raise ValidationError(
            _("The file is larger than %(limit)s.") % {"limit": filesizeformat(max_bytes)},
            code=ERROR_TOO_BIG,
        )
    if _looks_like_svg(data[:1024]):
        raise ValidationError(
            _("SVG files are not accepted (they can carry scripts). Upload a PNG, JPEG or WebP."),
            code=ERROR_SVG,
        )
    not_image = ValidationError(
        _("This file is not an image we accept. Upload a PNG, JPEG, WebP, GIF or ICO."),
        code=ERROR_NOT_IMAGE,
    )
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in READABLE:
                raise not_image
            width, height = probe.size
            if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                raise ValidationError(
                    _("The image is %(w)d×%(h)d pixels; the limit is %(max)d on each side.")
                    % {"w": width, "h": height, "max": MAX_SIDE},
                    code=ERROR_TOO_LARGE_PIXELS,
                )
            probe.verify()
        # verify() leaves the image unusable: open again to decode the pixels.
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return _reencode(image)
    except ValidationError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise not_image from None


def _reencode(image: Image.Image) -> CleanImage:
    out = io.BytesIO()
    is_jpeg = image.format == "JPEG"
    mode = "RGB" if is_jpeg or image.mode not in ("RGBA", "LA", "P", "PA") else "RGBA"
    pixels = image.convert(mode)
    pixels.info.clear()  # comments, EXIF, ICC, text chunks: Pillow would write them back
    if is_jpeg:
        pixels.save(out, format="JPEG", quality=90)
        kind, extension = "image/jpeg", "jpg"
    else:
        pixels.save(out, format="PNG", optimize=True)
        kind, extension = "image/png", "png"
    return CleanImage(out.getvalue(), kind, extension, image.width, image.height)
