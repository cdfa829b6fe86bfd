from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.models.tenant import CURRENCY_CHOICES
from prm.tenancy import TenantOwned


class CorrectionRequest(TenantOwned):
    """A manual correction or penalty above the tenant's four-eyes amount, waiting for a
    second staff member. Nothing reaches the ledger until it is approved; approving
    posts the entry (idempotent on ``key``) and links it here."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for a second approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key = models.CharField(max_length=200)  # the ledger key the approval will post
    partner = models.ForeignKey(
        "partners.PartnerProfile", on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=16)  # LedgerEntry.Kind.ADJUSTMENT or PENALTY
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)
    entry = models.ForeignKey(
        "rewards.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta(TenantOwned.Meta):
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="correction_key_unique"),
        ]
        indexes = [models.Index(fields=["tenant", "status", "-requested_at"])]
