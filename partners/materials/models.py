"""Marketing materials staff publish for partners: banners, text snippets, files, links.

Usage is counted on the row (views, copies, downloads: one UPDATE per page or action);
clicks through a material's link carry ``m=<material id>`` on ``/r/CODE`` and land in
``programs.Click.material_id`` (a plain column, no foreign key: the click path stays a
single insert)."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.tenancy import TenantOwned


def material_path(instance: Material, filename: str) -> str:
    """``materials/<tenant id>/<random>-<our name>``: unguessable, one folder per tenant.
    ``filename`` is ours (partners.materials.uploads names it), never the upload's."""
    return f"materials/{instance.tenant_id}/{secrets.token_hex(8)}-{filename}"


class Material(TenantOwned):
    class Kind(models.TextChoices):
        BANNER = "banner", _("Banner or image")
        TEXT = "text", _("Text snippet")
        FILE = "file", _("Downloadable file")
        LINK = "link", _("Link")

    class TextKind(models.TextChoices):
        AD = "ad", _("Ad copy")
        EMAIL = "email", _("E-mail template")
        SOCIAL = "social", _("Social post")

    class Audience(models.TextChoices):
        EVERYONE = "everyone", _("Every partner")
        PROGRAM = "program", _("Partners of a program")
        GROUP = "group", _("Partners of a group")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=160)
    description = models.CharField(_("description"), max_length=500, blank=True)
    folder = models.CharField(
        _("folder"),
        max_length=80,
        blank=True,
        help_text=_("Materials are listed by folder, then by position."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    audience = models.CharField(
        _("published to"), max_length=16, choices=Audience.choices, default=Audience.EVERYONE
    )
    program = models.ForeignKey(
        "programs.Program",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("program"),
    )
    group = models.ForeignKey(
        "rewards.PartnerGroup",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("group"),
    )
    is_published = models.BooleanField(_("published"), default=True)
    text_kind = models.CharField(
        _("text type"), max_length=16, choices=TextKind.choices, blank=True
    )
    body = models.TextField(_("text"), max_length=10000, blank=True)
    landing_url = models.URLField(_("landing page"), max_length=2048, blank=True)
    file = models.FileField(upload_to=material_path, blank=True, max_length=200)
    file_type = models.CharField(max_length=64, blank=True)
    file_name = models.CharField(max_length=120, blank=True)
    file_size = models.PositiveIntegerField(default=0)
    thumbnail = models.FileField(upload_to=material_path, blank=True, max_length=200)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    views = models.PositiveIntegerField(default=0)
    copies = models.PositiveIntegerField(default=0)
    downloads = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwned.Meta):
        ordering = ["folder", "position", "title"]
        indexes = [models.Index(fields=["tenant", "folder", "position"])]

    def __str__(self) -> str:
        return self.title

    @property
    def has_image(self) -> bool:
        return self.kind == self.Kind.BANNER and bool(self.file)

    @property
    def has_file(self) -> bool:
        return self.kind in (self.Kind.BANNER, self.Kind.FILE) and bool(self.file)
