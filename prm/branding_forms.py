"""The console's branding form: validation only (prm.services.branding writes)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from prm.branding import MIN_TEXT_CONTRAST, MIN_UI_CONTRAST, TEXT, WHITE, contrast
from prm.images import CleanImage, clean_image
from prm.models import Branding

HEX = re.compile(r"^#?(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
BAD_COLOUR = gettext_lazy("Enter a colour as # and six hex digits, e.g. #4f46e5.")


def normalise_hex(value: str) -> str:
    """``"#ABC"``, ``"abc"`` → ``"#aabbcc"``; ValidationError for anything else."""
    value = value.strip()
    if not HEX.match(value):
        raise forms.ValidationError(BAD_COLOUR, code="bad_colour")
    digits = value.lstrip("#").lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return "#" + digits


class ColourInput(forms.TextInput):
    """A text field (typing a hex code works everywhere); a colour picker sits beside it
    in the template, kept in step by static/js/branding.js."""

    def __init__(self) -> None:
        super().__init__(
            attrs={
                "maxlength": "7",
                "pattern": "#?[0-9a-fA-F]{3}([0-9a-fA-F]{3})?",
                "spellcheck": "false",
                "class": "js-colour",
                "autocomplete": "off",
            }
        )


def _upload_help(limit: int) -> Any:
    return format_lazy(
        gettext_lazy("PNG, JPEG, WebP, GIF or ICO, up to {size} and 2048 px a side. No SVG."),
        size=filesizeformat(limit),
    )


class BrandingForm(forms.ModelForm):
    """Colours, font, texts and the two images (files are checked here, stored by the
    service)."""

    logo = forms.FileField(
        label=gettext_lazy("Logo"),
        required=False,
        help_text=_upload_help(settings.PRM_BRANDING_LOGO_MAX_BYTES),
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/webp,image/gif"}),
    )
    remove_logo = forms.BooleanField(label=gettext_lazy("Remove the logo"), required=False)
    favicon = forms.FileField(
        label=gettext_lazy("Favicon"),
        required=False,
        help_text=_upload_help(settings.PRM_BRANDING_FAVICON_MAX_BYTES),
        widget=forms.FileInput(attrs={"accept": "image/png,image/x-icon,image/gif"}),
    )
    remove_favicon = forms.BooleanField(label=gettext_lazy("Remove the favicon"), required=False)

    class Meta:
        model = Branding
        fields = [
            "primary_color",
            "accent_color",
            "font",
            "cabinet_title",
            "support_email",
            "email_sender_name",
            "email_reply_to",
        ]
        widgets = {"primary_color": ColourInput(), "accent_color": ColourInput()}

    field_order = ["logo", "remove_logo", "favicon", "remove_favicon"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.images: dict[str, CleanImage] = {}
        self.warnings: list[str] = []

    def clean_primary_color(self) -> str:
        return normalise_hex(self.cleaned_data["primary_color"])

    def clean_accent_color(self) -> str:
        return normalise_hex(self.cleaned_data["accent_color"])

    def _image(self, name: str, limit: int) -> Any:
        upload = self.cleaned_data.get(name)
        if upload:
            self.images[name] = clean_image(upload, max_bytes=limit)
        return upload

    def clean_logo(self) -> Any:
        return self._image("logo", settings.PRM_BRANDING_LOGO_MAX_BYTES)

    def clean_favicon(self) -> Any:
        return self._image("favicon", settings.PRM_BRANDING_FAVICON_MAX_BYTES)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        primary, accent = data.get("primary_color"), data.get("accent_color")
        if primary and contrast(primary, WHITE) < MIN_TEXT_CONTRAST:
            self.warnings.append(
                _(
                    "The primary colour has a contrast of %(ratio).1f:1 with white; buttons "
                    "and links are easier to read from %(min).1f:1 (pick a darker shade)."
                )
                % {"ratio": contrast(primary, WHITE), "min": MIN_TEXT_CONTRAST}
            )
        if accent and contrast(accent, WHITE) < MIN_UI_CONTRAST:
            self.warnings.append(
                _(
                    "The accent colour has a contrast of %(ratio).1f:1 with white; it is easier "
                    "to see from %(min).1f:1."
                )
                % {"ratio": contrast(accent, WHITE), "min": MIN_UI_CONTRAST}
            )
        if primary and contrast(primary, TEXT) < 1.5:
            self.warnings.append(
                _("The primary colour is almost the colour of the text: links will not stand out.")
            )
        return data
