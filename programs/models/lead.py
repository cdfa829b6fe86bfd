from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from prm.tenancy import TenantOwned
from programs.models.trace import ClientTrace, trace_indexes


class Lead(ClientTrace, TenantOwned):
    """A prospective customer brought by a partner (or by nobody, when unattributed).

    The first partner to bring a customer owns them until ``owned_until``; a later
    submission of the same customer is stored as a duplicate of the owner's lead.
    """

    class Status(models.TextChoices):
        NEW = "new", _("New")
        CONTACTED = "contacted", _("Contacted")
        QUALIFIED = "qualified", _("Qualified")
        CONVERTED = "converted", _("Converted")
        REJECTED = "rejected", pgettext_lazy("lead status", "Rejected")

    class Source(models.TextChoices):
        SNIPPET = "snippet", _("Website snippet")
        API = "api", _("API")
        CABINET = "cabinet", _("Registered by the partner")
        CRM = "crm", _("CRM")
        CONSOLE = "console", _("Added by staff")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="leads")
    partner = models.ForeignKey(
        "partners.PartnerProfile",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.NEW
    )
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail"), blank=True, db_index=True)  # normalised lower-case
    phone = models.CharField(_("phone"), max_length=20, blank=True, db_index=True)  # E.164
    company = models.CharField(_("company"), max_length=200, blank=True)
    external_id = models.CharField(_("external id"), max_length=128, blank=True)
    visitor_id = models.CharField(max_length=64, blank=True, db_index=True)
    # The channel: copied from the click that brought the visitor, else from the page
    # the snippet sent the lead from.
    utm_source = models.CharField(max_length=100, blank=True)
    utm_medium = models.CharField(max_length=100, blank=True)
    utm_campaign = models.CharField(max_length=100, blank=True)
    sub_id = models.CharField(_("sub id"), max_length=64, blank=True)
    referrer_domain = models.CharField(max_length=100, blank=True)
    # The partner who registered this deal in the cabinet, kept even when the lead
    # turns out to be a duplicate (credited to nobody) so they still see it.
    registered_by = models.ForeignKey(
        "partners.PartnerProfile",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="registered_leads",
    )
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="duplicates"
    )
    owned_until = models.DateTimeField(null=True, blank=True)
    assigned_to = models.ForeignKey(
        "prm.Membership",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_leads",
        verbose_name=_("manager"),
    )
    attribution = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "program", "-created_at"]),
            # The program page counts each partner's leads in the program.
            models.Index(fields=["tenant", "program", "partner"], name="lead_program_partner_idx"),
            # The lead list: each sort (read forwards or backwards, see
            # programs.selectors.LEAD_ORDERS) and the partner filter, so that a deep
            # page is an index-only scan (prm.pagination).
            models.Index(fields=["tenant", "created_at", "id"], name="lead_tenant_created_idx"),
            models.Index(
                fields=["tenant", "name", "created_at", "id"], name="lead_tenant_name_idx"
            ),
            models.Index(
                fields=["tenant", "status", "-created_at", "-id"], name="lead_tenant_status_idx"
            ),
            models.Index(
                fields=["tenant", "partner", "-created_at"], name="lead_tenant_partner_idx"
            ),
        ]
        indexes += trace_indexes("lead")

    def __str__(self) -> str:
        return self.name or self.email or self.phone or self.external_id or str(self.id)[:8]

    @property
    def is_duplicate(self) -> bool:
        return self.duplicate_of_id is not None


class LeadEvent(TenantOwned):
    """History of a lead: creation, status changes, assignments and notes."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        STATUS = "status", _("Status changed")
        ASSIGNED = "assigned", _("Assigned")
        NOTE = "note", _("Note")
        DUPLICATE = "duplicate", _("Duplicate submission")

    id = models.BigAutoField(primary_key=True)
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    old_value = models.CharField(max_length=200, blank=True)
    new_value = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.new_value}"
