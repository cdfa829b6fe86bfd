from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.tenancy import TenantOwned


class PartnerGroup(TenantOwned):
    """Partners grouped for their own reward rules and hold period."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=120)
    hold_days = models.PositiveIntegerField(
        _("hold period, days"),
        null=True,
        blank=True,
        help_text=_("Leave empty to use each program's hold period."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="partner_group_name_unique")
        ]

    def __str__(self) -> str:
        return self.name
