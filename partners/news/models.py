"""News posts written by staff for partners, their images and who has read them."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.tenancy import TenantOwned


class Post(TenantOwned):
    """A post for everyone, one program's partners or one group's.

    ``publish_at`` is when it goes out; ``published_at`` is set when it did (at once, or
    by the periodic job ``partners.news.services.publish_due``). Partners see only
    published posts. ``body`` is stored sanitised (partners.news.sanitize) and rendered
    as it is.
    """

    class Audience(models.TextChoices):
        EVERYONE = "everyone", _("Every partner")
        PROGRAM = "program", _("The partners of one program")
        GROUP = "group", _("The partners of one group")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    audience = models.CharField(
        _("audience"), max_length=16, choices=Audience.choices, default=Audience.EVERYONE
    )
    program = models.ForeignKey(
        "programs.Program",
        verbose_name=_("program"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    group = models.ForeignKey(
        "rewards.PartnerGroup",
        verbose_name=_("group"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    publish_at = models.DateTimeField(_("publish at"))
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    send_email = models.BooleanField(_("e-mail it to the audience"), default=False)
    emailed_at = models.DateTimeField(null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-publish_at", "-id"]
        indexes = [
            # The console list and the cabinet feed, newest first.
            models.Index(fields=["tenant", "-publish_at", "-id"], name="news_post_list_idx"),
            # The periodic job: scheduled posts that are due.
            models.Index(
                fields=["publish_at"],
                condition=models.Q(published_at__isnull=True),
                name="news_post_due_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(audience="everyone", program__isnull=True, group__isnull=True)
                | models.Q(audience="program", program__isnull=False, group__isnull=True)
                | models.Q(audience="group", group__isnull=False, program__isnull=True),
                name="news_post_audience_target",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class PostImage(TenantOwned):
    """A post's image, re-encoded by prm.images (stored in the database with its post:
    saved, replaced and deleted in the post's own transaction)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    post = models.OneToOneField(Post, on_delete=models.CASCADE, related_name="image")
    content = models.BinaryField()
    content_type = models.CharField(max_length=32)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    version = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"image of {self.post_id}"


class PostRead(TenantOwned):
    """A partner opened a post (the feed's unread marker is its absence)."""

    id = models.BigAutoField(primary_key=True)
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reads")
    partner = models.ForeignKey(
        "partners.PartnerProfile", on_delete=models.CASCADE, related_name="+"
    )
    read_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["partner", "post"], name="news_read_once"),
        ]

    def __str__(self) -> str:
        return f"{self.partner_id} read {self.post_id}"
