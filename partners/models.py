from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from prm.tenancy import TenantOwned


def new_recruit_code() -> str:
    return secrets.token_urlsafe(6)


class PartnerProfile(TenantOwned):
    """A user's standing as a partner of one tenant: what makes them reach the cabinet."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        ACTIVE = "active", pgettext_lazy("partner status", "Active")
        BLOCKED = "blocked", _("Blocked")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_profiles"
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    display_name = models.CharField(_("name"), max_length=120, blank=True)
    company = models.CharField(_("company"), max_length=120, blank=True)
    group = models.ForeignKey(
        "rewards.PartnerGroup",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="partners",
        verbose_name=_("group"),
    )
    # Multi-level: who recruited this partner (never a cycle; see rewards.multilevel).
    recruited_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recruits",
        verbose_name=_("recruited by"),
    )
    recruit_code = models.CharField(max_length=16, default=new_recruit_code)
    # The partner's aggregated risk (antifraud), kept here so lists can sort and filter.
    risk_score = models.PositiveSmallIntegerField(_("risk score"), null=True, blank=True)
    # The partner's own sites (host names, lower case, without "www."): programs that
    # require declared sites flag clicks referred from anywhere else.
    websites = models.JSONField(_("websites"), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by partners.privacy.partner_erase: the personal data is gone and the profile
    # stays blocked for good (its ledger, rewards and payouts are kept).
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True, editable=False)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]
        indexes = [
            # The partner list, newest first.
            models.Index(
                fields=["tenant", "-created_at", "-id"], name="partner_tenant_created_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="partner_unique_user"),
            models.UniqueConstraint(fields=["tenant", "recruit_code"], name="partner_recruit_code"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.user.email

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None
