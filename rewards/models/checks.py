from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.tenancy import TenantOwned


class LedgerCheck(TenantOwned):
    """One run of the ledger check (rewards.services.verify): its progress while it
    runs, then what it found. The console shows the latest."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting to start")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    problem_count = models.PositiveIntegerField(default=0)
    problems = models.JSONField(default=list, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"])]


class StatementFile(TenantOwned):
    """A partner's monthly statement PDF, built once the month is closed (its ledger
    entries can no longer change) and served from here afterwards."""

    id = models.BigAutoField(primary_key=True)
    partner = models.ForeignKey(
        "partners.PartnerProfile", on_delete=models.CASCADE, related_name="+"
    )
    month = models.DateField()  # the first day of the month
    language = models.CharField(max_length=8)
    pdf = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "month", "language"], name="statement_file_unique"
            )
        ]
