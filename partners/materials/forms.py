from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from partners.materials.models import Material
from partners.materials.uploads import CleanFile, clean_banner, clean_document
from programs.models import Program
from rewards.models import PartnerGroup

PLACEHOLDERS = ("link", "promo_code", "partner_name")
PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class MaterialForm(forms.ModelForm):
    # Querysets set per request (tenant-scoped) in __init__.
    program = forms.ModelChoiceField(
        label=_l("Program"), queryset=Program.all_tenants_unscoped.none(), required=False
    )
    group = forms.ModelChoiceField(
        label=_l("Group"), queryset=PartnerGroup.all_tenants_unscoped.none(), required=False
    )
    landing_url = forms.URLField(
        label=_l("Landing page"),
        required=False,
        max_length=2048,
        assume_scheme="https",
        help_text=_l(
            "Where the partner's link leads (one of the program's allowed sites); "
            "empty: the program's landing page."
        ),
    )
    upload = forms.FileField(
        label=_l("File"),
        required=False,
        help_text=_l(
            "Banner: PNG, JPEG, WebP or GIF up to 2 MB (SVG is refused). "
            "File: PDF or ZIP up to 20 MB."
        ),
    )

    class Meta:
        model = Material
        fields = [
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
        ]
        help_texts = {
            "body": _l(
                "Placeholders filled in for each partner: {link}, {promo_code}, {partner_name}."
            ),
        }
        widgets = {"body": forms.Textarea(attrs={"rows": 6})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = Program.objects.order_by("name")
        self.fields["group"].queryset = PartnerGroup.objects.order_by("name")
        self.clean_upload_result: CleanFile | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        audience = data.get("audience")
        if audience == Material.Audience.PROGRAM and not data.get("program"):
            self.add_error("program", _("Choose the program whose partners see it."))
        if audience == Material.Audience.GROUP and not data.get("group"):
            self.add_error("group", _("Choose the group whose partners see it."))
        if audience != Material.Audience.PROGRAM:
            data["program"] = None
        if audience != Material.Audience.GROUP:
            data["group"] = None
        upload = data.get("upload")
        if kind == Material.Kind.TEXT:
            body = data.get("body", "")
            if not body.strip():
                self.add_error("body", _("Write the text partners will copy."))
            unknown = sorted(set(PLACEHOLDER_RE.findall(body)) - set(PLACEHOLDERS))
            if unknown:
                self.add_error(
                    "body",
                    _("Unknown placeholders: %(names)s. Use {link}, {promo_code}, {partner_name}.")
                    % {"names": ", ".join("{" + n + "}" for n in unknown)},
                )
            if not data.get("text_kind"):
                data["text_kind"] = Material.TextKind.AD
        else:
            data["body"] = ""
            data["text_kind"] = ""
        if kind in (Material.Kind.BANNER, Material.Kind.FILE):
            if upload:
                try:
                    clean = clean_banner if kind == Material.Kind.BANNER else clean_document
                    self.clean_upload_result = clean(upload)
                except ValidationError as exc:
                    self.add_error("upload", exc)
            elif not (self.instance.pk and self.instance.file and self.instance.kind == kind):
                self.add_error("upload", _("Upload the file."))
        elif upload:
            self.add_error("upload", _("Only banners and files have an upload."))
        if kind == Material.Kind.LINK and not data.get("landing_url"):
            self.add_error("landing_url", _("Give the landing page's address."))
        return data
