from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.models.tenant import CURRENCY_CHOICES
from prm.tenancy import TenantOwned
from programs.models.trace import ClientTrace, trace_indexes


class Conversion(ClientTrace, TenantOwned):
    """A sale, subscription payment or sign-up reported by the client, with the
    attribution trail that says which partner (if any) gets the credit and why."""

    class Kind(models.TextChoices):
        SALE = "sale", _("Sale")
        SUBSCRIPTION = "subscription", _("Subscription payment")
        SIGNUP = "signup", _("Sign-up")

    class Status(models.TextChoices):
        ATTRIBUTED = "attributed", _("Credited to a partner")
        UNATTRIBUTED = "unattributed", _("No partner")
        REFUNDED = "refunded", _("Refunded")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey(
        "programs.Program", on_delete=models.CASCADE, related_name="conversions"
    )
    partner = models.ForeignKey(
        "partners.PartnerProfile",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversions",
    )
    lead = models.ForeignKey(
        "programs.Lead",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversions",
    )
    external_id = models.CharField(_("order id"), max_length=128)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.SALE)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    refunded_amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    customer_email = models.EmailField(blank=True)
    customer_external_id = models.CharField(max_length=128, blank=True)
    visitor_id = models.CharField(max_length=64, blank=True)
    promo_code = models.CharField(max_length=64, blank=True)
    # The payer's instrument as a salted fingerprint ("card:…", "iban:…", "wallet:…"),
    # compared with the partner's payout details (self-referral); never the number.
    payer = models.CharField(max_length=48, blank=True)
    attribution = models.JSONField(default=dict)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-occurred_at"]
        indexes = [
            # Rewards read a customer's earlier purchases and a partner's month.
            models.Index(fields=["tenant", "program", "customer_email"]),
            models.Index(fields=["tenant", "program", "customer_external_id"]),
            models.Index(fields=["tenant", "program", "partner", "occurred_at"]),
            # The conversion list, newest first, and its partner filter.
            models.Index(fields=["tenant", "-occurred_at", "-id"], name="conv_tenant_occurred_idx"),
            models.Index(
                fields=["tenant", "partner", "-occurred_at"], name="conv_tenant_partner_idx"
            ),
        ]
        indexes += trace_indexes("conv")
        constraints = [
            # The caller's order id makes reporting idempotent.
            models.UniqueConstraint(
                fields=["tenant", "program", "external_id"], name="conversion_order_once"
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gte=0), name="conversion_amount_gte_0"
            ),
            models.CheckConstraint(
                condition=models.Q(refunded_amount__gte=0)
                & models.Q(refunded_amount__lte=models.F("amount")),
                name="conversion_refund_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} {self.amount} {self.currency}"

    @property
    def net_amount(self) -> Decimal:
        return self.amount - self.refunded_amount


class Refund(TenantOwned):
    """A full or partial refund of a conversion (idempotent on the caller's id)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversion = models.ForeignKey(Conversion, on_delete=models.CASCADE, related_name="refunds")
    external_id = models.CharField(max_length=128)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["conversion", "external_id"], name="refund_once"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_gt_0"),
        ]

    def __str__(self) -> str:
        return f"-{self.amount}"
