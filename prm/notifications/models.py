from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.notifications.kinds import Kind
from prm.tenancy import TenantOwned


class Notification(TenantOwned):
    """One e-mail-worthy event for one recipient: the outbox row.

    ``key`` names the event (``reward_approved:<reward id>``); with the recipient it is
    unique, so writing the same event twice (a retried job, accrual run again, a
    rescore) finds the row that exists and sends nothing new. Rows are written in the
    transaction of the change they announce and sent by an RQ job after commit; rows of
    a digest kind written in one run (``batch``) go out as one e-mail per recipient.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Not sent (turned off)")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=200)
    batch = models.UUIDField(db_index=True)
    # What the e-mail says, captured when the event happened (amounts, names, reason).
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "recipient", "key"], name="notification_once_per_recipient"
            )
        ]
        indexes = [
            # The retry sweeper polls failed and stuck rows.
            models.Index(
                fields=["updated_at"],
                condition=models.Q(status__in=["failed", "sending"]),
                name="notification_retry_idx",
            ),
            models.Index(fields=["tenant", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient_id} ({self.status})"


class NotificationPreference(TenantOwned):
    """A person's e-mail choices in one workspace: the kinds turned off and the language
    of the e-mails (empty: the workspace's). No row: everything on."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    muted = models.JSONField(default=list, blank=True)
    language = models.CharField(
        _("e-mail language"), max_length=8, choices=settings.LANGUAGES, blank=True
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="notification_pref_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {len(self.muted)} off"
