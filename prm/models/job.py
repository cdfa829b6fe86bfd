from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class Job(models.Model):
    """A record of one enqueued job: what, for which tenant, and how it ended.

    Platform-level (periodic jobs have no tenant), so it is not TenantOwned; the
    console does not list it, operators see it in the Django admin.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("prm.Tenant", on_delete=models.CASCADE, null=True, blank=True)
    queue = models.CharField(max_length=32, default="default")
    func = models.CharField(max_length=200)
    kwargs = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The sweeper polls for jobs whose dispatch may have been lost.
            models.Index(
                fields=["created_at"],
                condition=models.Q(status="queued"),
                name="job_queued_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.func} [{self.status}]"
