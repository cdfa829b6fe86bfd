"""A tenant's connection to a CRM, and how its fields and stages map to ours."""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.crypto import DecryptionError, decrypt, encrypt
from prm.tenancy import TenantOwned


class Provider(models.TextChoices):
    AMOCRM = "amocrm", "amoCRM"
    BITRIX24 = "bitrix24", "Bitrix24"
    SALESFORCE = "salesforce", "Salesforce"
    HUBSPOT = "hubspot", "HubSpot"


def _hook_secret() -> str:
    return secrets.token_urlsafe(24)


class CrmConnection(TenantOwned):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        BROKEN = "broken", _("Broken: credentials refused")
        PAUSED = "paused", _("Paused")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.CharField(_("CRM"), max_length=16, choices=Provider.choices)
    auth_kind = models.CharField(_("authorization"), max_length=16)
    base_url = models.URLField(_("API base URL"), max_length=300)
    auth_url = models.URLField(_("authorization server URL"), max_length=300, blank=True)
    # Credentials (tokens, secrets, webhook URL) as one encrypted JSON document.
    secrets_encrypted = models.TextField(blank=True)
    settings = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=500, blank=True)
    account_name = models.CharField(max_length=200, blank=True)
    # The program a lead created in the CRM (with a referral code) joins.
    program = models.ForeignKey(
        "programs.Program",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("program for leads created in the CRM"),
    )
    # Our inbound URL is /hooks/crm/<hook_secret>/: unguessable, rotated on demand.
    hook_secret = models.CharField(max_length=64, unique=True, default=_hook_secret)
    events_subscribed = models.BooleanField(default=False)
    # The URL the CRM was told to send its events to, as recorded when subscribing: the
    # status page compares it with event_url() now (a changed port or secret breaks it).
    events_url = models.CharField(_("event URL held by the CRM"), max_length=500, blank=True)
    poll_cursor = models.CharField(max_length=100, blank=True)
    reconciled_at = models.DateTimeField(null=True, blank=True)
    # Which monitoring thresholds are crossed now, so an alert goes out once per crossing.
    alerts = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwned.Meta):
        ordering = ["provider"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "provider"], name="crm_one_per_provider")
        ]

    def __str__(self) -> str:
        return self.get_provider_display()

    @property
    def credentials(self) -> dict[str, Any]:
        """The decrypted secrets; prm.crypto.DecryptionError when the key changed."""
        return json.loads(decrypt(self.secrets_encrypted)) if self.secrets_encrypted else {}

    @property
    def credentials_readable(self) -> bool:
        """False when the stored credentials no longer decrypt (the key changed)."""
        try:
            return isinstance(self.credentials, dict)
        except DecryptionError:
            return False

    def set_credentials(self, values: dict[str, Any]) -> None:
        self.secrets_encrypted = encrypt(json.dumps(values))

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class PrmField(models.TextChoices):
    NAME = "name", _("Name")
    EMAIL = "email", _("E-mail")
    PHONE = "phone", _("Phone")
    COMPANY = "company", _("Company")
    NOTES = "notes", _("Notes")
    LEAD_ID = "lead_id", _("PRM lead id")
    PARTNER = "partner", _("Partner")
    REFERRAL_CODE = "referral_code", _("Referral code")
    PROMO_CODE = "promo_code", _("Promo code")
    PROGRAM = "program", _("Program")
    # Not a CRM field: the deal's stage, through the stage map (integrations/crm/stages.py).
    STATUS = "status", _("Lead status (the deal's stage)")
    # "Reward on this lead": written to the CRM only (see integrations/crm/reward_values.py).
    REWARD_AMOUNT = "reward_amount", _("Reward on this lead: amount")
    REWARD_CURRENCY = "reward_currency", _("Reward on this lead: currency")
    REWARD_STATUS = "reward_status", _("Reward on this lead: status")
    # The lead's partner's balances, per currency (rewards.services.ledger.balances).
    PARTNER_ACCRUED = "partner_accrued", _("Partner's rewards on hold")
    PARTNER_APPROVED = "partner_approved", _("Partner's approved rewards, not yet paid")
    PARTNER_PAID = "partner_paid", _("Partner's rewards paid")


class CrmFieldMap(TenantOwned):
    """One field's mapping: where it goes, who is master, and what a conflict does."""

    class Direction(models.TextChoices):
        BOTH = "both", _("Both ways")
        TO_CRM = "to_crm", _("PRM → CRM")
        FROM_CRM = "from_crm", _("CRM → PRM")

    class Master(models.TextChoices):
        CRM = "crm", _("CRM")
        PRM = "prm", _("PRM")

    class Strategy(models.TextChoices):
        LAST_WRITE = "last_write", _("Last write wins")
        MASTER = "master", _("Source of truth wins")
        MANUAL = "manual", _("Manual resolution")
        MERGE = "merge", _("Merge")

    connection = models.ForeignKey(CrmConnection, on_delete=models.CASCADE, related_name="fields")
    prm_field = models.CharField(_("PRM field"), max_length=32, choices=PrmField.choices)
    crm_field = models.CharField(_("CRM field"), max_length=100, blank=True)
    direction = models.CharField(
        _("direction"), max_length=16, choices=Direction.choices, default=Direction.BOTH
    )
    master = models.CharField(
        _("source of truth"), max_length=8, choices=Master.choices, default=Master.CRM
    )
    strategy = models.CharField(
        _("on conflict"), max_length=16, choices=Strategy.choices, default=Strategy.MASTER
    )

    class Meta(TenantOwned.Meta):
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "prm_field"], name="crm_field_once")
        ]

    def __str__(self) -> str:
        return f"{self.prm_field} → {self.crm_field or '-'}"

    @property
    def pushes(self) -> bool:
        return bool(self.crm_field) and self.direction in (
            self.Direction.BOTH,
            self.Direction.TO_CRM,
        )

    @property
    def pulls(self) -> bool:
        return bool(self.crm_field) and self.direction in (
            self.Direction.BOTH,
            self.Direction.FROM_CRM,
        )


class CrmStageMap(TenantOwned):
    """A CRM pipeline stage and the lead status it means here."""

    connection = models.ForeignKey(CrmConnection, on_delete=models.CASCADE, related_name="stages")
    pipeline_id = models.CharField(max_length=64)
    pipeline_name = models.CharField(max_length=200, blank=True)
    stage_id = models.CharField(max_length=64)
    stage_name = models.CharField(max_length=200, blank=True)
    semantic = models.CharField(max_length=8, default="open")  # open / won / lost in the CRM
    lead_status = models.CharField(_("lead status"), max_length=16, blank=True)

    class Meta(TenantOwned.Meta):
        ordering = ["pipeline_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "pipeline_id", "stage_id"], name="crm_stage_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.pipeline_name} / {self.stage_name}"
