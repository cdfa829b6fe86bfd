"""Outbound webhooks: endpoints of a workspace, the events it emitted, and one delivery
per (endpoint, event) with its attempts.

An event is written once (a stable id, its type, the object's data at that moment) and
fanned out to the endpoints subscribed to its type when its job runs; each delivery is
retried on its own schedule (see prm.webhooks.delivery).
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from prm import crypto
from prm.tenancy import TenantOwned

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


class WebhookEndpoint(TenantOwned):
    """A URL of the workspace's own systems and the event types it receives. The signing
    secret is stored encrypted (prm.crypto) and shown once, when made or rotated."""

    class Disabled(models.TextChoices):
        NO = "", _("Enabled")
        BY_HAND = "by_hand", _("Turned off by hand")
        FAILING = "failing", _("Turned off: failing for 3 days")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    events = models.JSONField(_("events"), default=list)
    secret_encrypted = models.TextField(editable=False)
    secret_prefix = models.CharField(max_length=16, editable=False)
    # After a rotation the old secret still signs (a second v1) for a day, so the
    # receiver can switch without losing deliveries.
    previous_secret_encrypted = models.TextField(blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    enabled = models.BooleanField(_("enabled"), default=True)
    disabled_reason = models.CharField(
        max_length=16, choices=Disabled.choices, default=Disabled.NO, blank=True
    )
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at", "-id"], name="webhook_ep_list")]

    def __str__(self) -> str:
        return self.url

    def set_secret(self, secret: str) -> None:
        self.secret_encrypted = crypto.encrypt(secret)
        self.secret_prefix = secret[: len(SECRET_PREFIX) + 4]

    def secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)

    def signing_secrets(self, now: object) -> list[str]:
        """The current secret, and the previous one while it is still honoured."""
        found = [self.secret()]
        until = self.previous_secret_until
        if self.previous_secret_encrypted and until and until > now:  # type: ignore[operator]
            found.append(crypto.decrypt(self.previous_secret_encrypted))
        return found


class WebhookEvent(TenantOwned):
    """Something that happened, once: its id is what receivers de-duplicate on."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(_("event"), max_length=40)
    data = models.JSONField(default=dict)
    # The transaction's batch: its one job fans out and delivers these events.
    batch = models.UUIDField(db_index=True)
    # A test event goes to this endpoint only (not to subscribers of its type).
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    fanned_out_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwned.Meta):
        ordering = ["created_at", "id"]
        indexes = [
            # The sweeper looks for events whose job was lost before fanning them out.
            models.Index(
                fields=["created_at"],
                condition=models.Q(fanned_out_at__isnull=True),
                name="webhook_event_waiting",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"

    @property
    def public_id(self) -> str:
        return f"evt_{self.id.hex}"


class WebhookDelivery(TenantOwned):
    """One event to one endpoint: its attempts, the last answer, the next try."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENDING = "sending", _("Sending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_status_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    last_response_ms = models.PositiveIntegerField(_("response time"), null=True, blank=True)
    last_error = models.CharField(_("error"), max_length=300, blank=True)
    last_response = models.CharField(max_length=500, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_once")
        ]
        indexes = [
            models.Index(fields=["endpoint", "-created_at", "-id"], name="webhook_dlv_log"),
            # The sweeper: deliveries due again, across tenants.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["pending", "sending"]),
                name="webhook_dlv_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} [{self.status}]"
