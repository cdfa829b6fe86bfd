from __future__ import annotations

import secrets
import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.tenancy import TenantOwned

DEFAULT_PRIMARY = "#4f46e5"
DEFAULT_ACCENT = "#0e7490"


class Font(models.TextChoices):
    """The bundled fonts (static/fonts, SIL OFL, latin + cyrillic): no external hosts."""

    SYSTEM = "system", _("The device's own font")
    INTER = "inter", "Inter"
    ROBOTO = "roboto", "Roboto"
    PT_SANS = "pt-sans", "PT Sans"
    OPEN_SANS = "open-sans", "Open Sans"


def asset_path(instance: Branding, filename: str) -> str:
    """``branding/<tenant id>/<random>.<ext>``: unguessable, one folder per tenant.

    ``filename`` is ours (prm.branding names the re-encoded image), never the upload's.
    """
    return f"branding/{instance.tenant_id}/{secrets.token_hex(8)}-{filename}"


class Branding(TenantOwned):
    """How a tenant's cabinet, sign-in pages, public pages, PDFs and e-mails look.

    At most one row per tenant; no row means the platform's defaults. Read it through
    ``prm.branding.branding_for`` (the tenant loaded from the host carries it along, so
    pages pay no query for it).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Overrides TenantOwned's foreign key: one row per tenant, reachable as tenant.branding.
    tenant = models.OneToOneField("prm.Tenant", on_delete=models.CASCADE, related_name="branding")
    logo = models.FileField(_("logo"), upload_to=asset_path, blank=True, max_length=200)
    logo_type = models.CharField(max_length=32, blank=True)
    favicon = models.FileField(_("favicon"), upload_to=asset_path, blank=True, max_length=200)
    favicon_type = models.CharField(max_length=32, blank=True)
    primary_color = models.CharField(_("primary colour"), max_length=7, default=DEFAULT_PRIMARY)
    accent_color = models.CharField(_("accent colour"), max_length=7, default=DEFAULT_ACCENT)
    font = models.CharField(_("font"), max_length=16, choices=Font.choices, default=Font.SYSTEM)
    cabinet_title = models.CharField(
        _("cabinet title"),
        max_length=80,
        blank=True,
        help_text=_("Shown at the top of every cabinet page. Empty: the workspace name."),
    )
    support_email = models.EmailField(_("support e-mail"), blank=True)
    email_sender_name = models.CharField(
        _("e-mail sender name"),
        max_length=80,
        blank=True,
        help_text=_("The name partners see on e-mails. Empty: the workspace name."),
    )
    email_reply_to = models.EmailField(_("e-mail reply-to address"), blank=True)
    # Bumped on every save: part of the asset URLs, so browsers may cache them for long.
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwned.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(primary_color__regex=r"^#[0-9a-f]{6}$")
                & models.Q(accent_color__regex=r"^#[0-9a-f]{6}$"),
                name="branding_colors_are_hex",
            )
        ]

    def __str__(self) -> str:
        return f"branding of {self.tenant_id}"
