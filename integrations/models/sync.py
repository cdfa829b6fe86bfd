"""The state of synchronisation: which CRM record is which lead, what waits to be
pushed, what conflicted, and the log monitoring reads."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.tenancy import TenantOwned


class CrmRecordLink(TenantOwned):
    """The mapping table: one PRM lead <-> one CRM record, per connection.

    ``synced_values`` are the field values (by PRM field) both sides agreed on at the
    last sync: the common ancestor that tells "changed here" from "changed there"."""

    connection = models.ForeignKey(
        "integrations.CrmConnection", on_delete=models.CASCADE, related_name="links"
    )
    lead = models.ForeignKey("programs.Lead", on_delete=models.CASCADE, related_name="crm_links")
    crm_id = models.CharField(max_length=64)
    crm_contact_id = models.CharField(max_length=64, blank=True)
    synced_values = models.JSONField(default=dict, blank=True)
    stage = models.CharField(max_length=140, blank=True)  # "pipeline:stage" last seen
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    deleted_in_crm = models.BooleanField(default=False)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["connection", "lead"], name="crm_link_lead_once"),
            models.UniqueConstraint(fields=["connection", "crm_id"], name="crm_link_record_once"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} ↔ {self.crm_id}"


class CrmOutbox(TenantOwned):
    """A lead waiting to be pushed. One open row per (connection, lead): a second change
    before the push just bumps it, so a burst of edits becomes one CRM write."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting")
        DONE = "done", _("Synced")
        SKIPPED = "skipped", _("Skipped: refused by the CRM")
        DEAD = "dead", _("Gave up after retries")

    connection = models.ForeignKey(
        "integrations.CrmConnection", on_delete=models.CASCADE, related_name="outbox"
    )
    lead = models.ForeignKey("programs.Lead", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    # When the change happened (latency = pushed - changed).
    changed_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta(TenantOwned.Meta):
        ordering = ["next_attempt_at"]
        indexes = [models.Index(fields=["connection", "state", "next_attempt_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "lead"],
                condition=models.Q(state="pending"),
                name="crm_outbox_one_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} {self.state}"


class CrmConflict(TenantOwned):
    """Both sides changed a field the tenant resolves by hand."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        KEPT_PRM = "kept_prm", _("Kept the PRM value")
        KEPT_CRM = "kept_crm", _("Kept the CRM value")

    connection = models.ForeignKey(
        "integrations.CrmConnection", on_delete=models.CASCADE, related_name="conflicts"
    )
    lead = models.ForeignKey("programs.Lead", on_delete=models.CASCADE, related_name="+")
    prm_field = models.CharField(max_length=32)
    prm_value = models.TextField(blank=True)
    crm_value = models.TextField(blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    resolved_by = models.ForeignKey(
        "prm.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prm_field}: {self.prm_value} / {self.crm_value}"


class CrmSyncLog(TenantOwned):
    """One line per sync step (a push run, an inbound event, a poll, a reconciliation),
    with the counts monitoring adds up."""

    class Kind(models.TextChoices):
        PUSH = "push", _("PRM → CRM")
        EVENT = "event", _("CRM event")
        POLL = "poll", _("Polling / reconciliation")
        AUTH = "auth", _("Authorization")
        TEST = "test", _("Connection test")

    connection = models.ForeignKey(
        "integrations.CrmConnection", on_delete=models.CASCADE, related_name="log"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    records = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    conflicts = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    api_errors = models.PositiveIntegerField(default=0)
    latency_seconds = models.FloatField(null=True, blank=True)  # max, event -> CRM
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["connection", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.records}/{self.failed}"


class CrmPartnerLink(TenantOwned):
    """One partner <-> one CRM contact, per connection (when the connection's
    ``sync_partners`` setting is on). The row is also the partner's outbox: ``pending``
    says it waits to be pushed; ``synced_hash`` is what the contact was last written
    with, so a change that does not alter what the CRM shows costs no request."""

    connection = models.ForeignKey(
        "integrations.CrmConnection", on_delete=models.CASCADE, related_name="partner_links"
    )
    partner = models.ForeignKey(
        "partners.PartnerProfile", on_delete=models.CASCADE, related_name="crm_links"
    )
    crm_id = models.CharField(max_length=64, blank=True)
    synced_hash = models.CharField(max_length=64, blank=True)
    pending = models.BooleanField(default=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        indexes = [
            models.Index(
                fields=["connection", "pending", "next_attempt_at"], name="crm_partner_due"
            ),
            # The partners' dead letters (refused, or out of retries).
            models.Index(
                fields=["connection", "-next_attempt_at", "-id"],
                condition=models.Q(pending=False) & ~models.Q(last_error=""),
                name="crm_partner_refused",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["connection", "partner"], name="crm_partner_link_once"),
        ]

    def __str__(self) -> str:
        return f"{self.partner_id} ↔ {self.crm_id or '?'}"
