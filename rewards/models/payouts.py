from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.models.tenant import CURRENCY_CHOICES
from prm.tenancy import TenantOwned


class PayoutMethod(TenantOwned):
    """A way the tenant pays partners, with its fee and minimum."""

    class Kind(models.TextChoices):
        CARD = "card", _("Bank card")
        BANK = "bank", _("Bank transfer (IBAN)")
        YOOMONEY = "yoomoney", _("YooMoney wallet")
        PAYPAL = "paypal", _("PayPal")

    class Schedule(models.TextChoices):
        ON_REQUEST = "request", _("When the partner asks")
        MONTHLY = "monthly", _("Monthly, automatically")
        BIWEEKLY = "biweekly", _("Every two weeks, automatically")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=80)
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    fee_fixed = models.DecimalField(_("fixed fee"), max_digits=10, decimal_places=2, default=0)
    fee_percent = models.DecimalField(_("fee, percent"), max_digits=5, decimal_places=2, default=0)
    minimum = models.DecimalField(_("minimum payout"), max_digits=12, decimal_places=2, default=0)
    schedule = models.CharField(
        _("schedule"), max_length=16, choices=Schedule.choices, default=Schedule.ON_REQUEST
    )

    class Provider(models.TextChoices):
        MANUAL = "manual", _("By hand (mass-payment file)")
        PAYPAL = "paypal", _("PayPal Payouts API")

    provider = models.CharField(
        _("sent through"), max_length=16, choices=Provider.choices, default=Provider.MANUAL
    )
    provider_base_url = models.URLField(
        _("provider API URL"), blank=True, help_text=_("e.g. https://api-m.paypal.com")
    )
    provider_client_id = models.CharField(_("provider client id"), max_length=200, blank=True)
    provider_secret_encrypted = models.TextField(blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(fee_fixed__gte=0, fee_percent__gte=0, fee_percent__lt=100),
                name="payout_method_fee_sane",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"

    def fee_for(self, amount: Decimal) -> Decimal:
        fee = self.fee_fixed + (amount * self.fee_percent / Decimal(100))
        return min(fee.quantize(Decimal("0.01")), amount)


class PayoutDetails(TenantOwned):
    """A partner's account for one payout method, encrypted at rest, shown masked."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(
        "partners.PartnerProfile", on_delete=models.CASCADE, related_name="payout_details"
    )
    method = models.ForeignKey(PayoutMethod, on_delete=models.CASCADE, related_name="+")
    encrypted = models.TextField()
    masked = models.CharField(max_length=80)
    holder = models.CharField(_("account holder"), max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "method"], name="payout_details_once")
        ]

    def __str__(self) -> str:
        return self.masked


class PayoutBatch(TenantOwned):
    """Approved payouts of one method sent together (a mass-payment file or an API call)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        SENT = "sent", _("Sent")
        DONE = "done", _("Done")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    method = models.ForeignKey(PayoutMethod, on_delete=models.PROTECT, related_name="batches")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    provider_ref = models.CharField(max_length=120, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.method} {self.created_at:%Y-%m-%d}"


class PayoutRequest(TenantOwned):
    """A withdrawal of available money, from request to paid (or back)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        APPROVED = "approved", _("Approved")
        PAID = "paid", _("Paid")
        REJECTED = "rejected", _("Rejected")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(
        "partners.PartnerProfile", on_delete=models.PROTECT, related_name="payouts"
    )
    method = models.ForeignKey(PayoutMethod, on_delete=models.PROTECT, related_name="+")
    details_masked = models.CharField(max_length=80)
    details_encrypted = models.TextField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    fee = models.DecimalField(max_digits=14, decimal_places=2)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    reason = models.CharField(_("reason shown to the partner"), max_length=300, blank=True)
    scheduled = models.BooleanField(default=False)
    batch = models.ForeignKey(
        PayoutBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="payouts"
    )
    provider_ref = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payout_amount_gt_0"),
            models.CheckConstraint(
                condition=models.Q(fee__gte=0) & models.Q(fee__lte=models.F("amount")),
                name="payout_fee_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} [{self.status}]"

    @property
    def net(self) -> Decimal:
        return self.amount - self.fee
