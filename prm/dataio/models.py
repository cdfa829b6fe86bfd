"""Files made by large exports, imports waiting for confirmation, scheduled exports."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.tenancy import TenantOwned


class Format(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX"
    JSON = "json", "JSON"


class ExportFile(TenantOwned):
    """A large export built by a job (or a scheduled export sent as a link): its progress
    while it runs, then the file, kept in chunks (like every file the platform keeps,
    in PostgreSQL) until ``expires_at``.

    ``perm`` is the permission of the list it came from: whoever opens the file must
    still hold it.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting")
        RUNNING = "running", _("Running")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=64)
    params = models.CharField(max_length=2000, blank=True)  # the list's query string
    url_kwargs = models.JSONField(default=dict, blank=True)  # ids in the list's URL
    perm = models.CharField(max_length=64)
    format = models.CharField(max_length=8, choices=Format.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    size = models.BigIntegerField(default=0)
    filename = models.CharField(max_length=200)
    error = models.CharField(max_length=500, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.filename

    @property
    def progress(self) -> int:
        return min(100, round(100 * self.done / self.total)) if self.total else 0


class ExportChunk(TenantOwned):
    """One piece (at most a megabyte) of an export file, so neither writing nor
    downloading holds the whole file in memory."""

    id = models.BigAutoField(primary_key=True)
    export = models.ForeignKey(ExportFile, on_delete=models.CASCADE, related_name="chunks")
    seq = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta(TenantOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["export", "seq"], name="export_chunk_once"),
        ]

    def __str__(self) -> str:
        return f"{self.export_id}#{self.seq}"


class ImportBatch(TenantOwned):
    """One uploaded file: checked in a dry run (the preview), then imported whole or not
    at all once someone confirms."""

    class Kind(models.TextChoices):
        PARTNERS = "partners", _("Partners")
        LEADS = "leads", _("Leads")
        CONVERSIONS = "conversions", _("Conversions")

    class Status(models.TextChoices):
        CHECKING = "checking", _("Checking")
        CHECKED = "checked", _("Checked")
        INVALID = "invalid", _("Has errors")
        IMPORTING = "importing", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CHECKING)
    filename = models.CharField(max_length=200)
    format = models.CharField(max_length=8, choices=Format.choices)
    content = models.BinaryField()
    invite = models.BooleanField(default=False)  # partners: e-mail an invitation
    rows = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    # The dry run's (then the import's) figures: new / update / skip / invalid counts,
    # row errors and the first rows' preview.
    result = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.filename

    @property
    def progress(self) -> int:
        return min(100, round(100 * self.done / self.rows)) if self.rows else 0

    @property
    def running(self) -> bool:
        return self.status in (self.Status.CHECKING, self.Status.IMPORTING)


class ScheduledExport(TenantOwned):
    """A list (or report) delivered every day, week or month by e-mail or to a URL."""

    class Frequency(models.TextChoices):
        DAILY = "daily", _("Daily")
        WEEKLY = "weekly", _("Weekly (Mondays)")
        MONTHLY = "monthly", _("Monthly (on the 1st)")

    class Delivery(models.TextChoices):
        EMAIL_ATTACHMENT = "email_attachment", _("E-mail with the file attached")
        EMAIL_LINK = "email_link", _("E-mail with a download link")
        WEBHOOK = "webhook", _("POST the file to a URL")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=120)
    source = models.CharField(_("list"), max_length=64)
    params = models.CharField(_("filters"), max_length=2000, blank=True)
    url_kwargs = models.JSONField(default=dict, blank=True)
    format = models.CharField(_("format"), max_length=8, choices=Format.choices)
    frequency = models.CharField(_("frequency"), max_length=16, choices=Frequency.choices)
    delivery = models.CharField(_("delivery"), max_length=24, choices=Delivery.choices)
    recipients = models.CharField(_("recipients"), max_length=1000, blank=True)
    url = models.URLField(_("URL"), max_length=500, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def recipient_list(self) -> list[str]:
        return [a.strip() for a in self.recipients.replace(";", ",").split(",") if a.strip()]


class ScheduledRun(TenantOwned):
    """One period's delivery of a scheduled export: at most one per period (the unique
    constraint is what makes the scheduler's ticks and RQ's retries idempotent)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    id = models.BigAutoField(primary_key=True)
    schedule = models.ForeignKey(ScheduledExport, on_delete=models.CASCADE, related_name="runs")
    period = models.CharField(max_length=16)  # 2026-12-04, 2026-W49, 2026-12
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "period"], name="scheduled_run_once"),
        ]

    def __str__(self) -> str:
        return f"{self.schedule_id} {self.period}"
