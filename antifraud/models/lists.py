from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.tenancy import TenantOwned


class BlockEntry(TenantOwned):
    """A tenant's block list: anything matching scores the block signal's points."""

    class Kind(models.TextChoices):
        IP = "ip", _("IP address or network (CIDR)")
        EMAIL = "email", _("E-mail address")
        DOMAIN = "domain", _("E-mail domain")
        PARTNER = "partner", _("Partner")

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=254)  # normalised; a partner's id
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["kind", "value"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "kind", "value"], name="block_entry_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class RiskException(TenantOwned):
    """ "Allow": a reviewer's decision that this signal, for this partner and this matched
    key, is not fraud — it no longer fires for the pair."""

    id = models.BigAutoField(primary_key=True)
    code = models.CharField(max_length=32)
    partner = models.ForeignKey(
        "partners.PartnerProfile", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    match_key = models.CharField(max_length=128, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "code", "partner", "match_key"],
                name="risk_exception_once",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.match_key}"
