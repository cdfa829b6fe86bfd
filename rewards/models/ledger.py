from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.models.tenant import CURRENCY_CHOICES
from prm.tenancy import TenantOwned

ZERO = Decimal("0")


class Reward(TenantOwned):
    """One reward a partner earned (a conversion, a lead, a bonus, an upline share).

    Its state (pending → approved | rejected) changes by conditional updates; the
    money itself is only ever in LedgerEntry rows, from which every balance is summed.
    """

    class Kind(models.TextChoices):
        CONVERSION = "conversion", _("Conversion")
        LEAD = "lead", _("Lead")
        BONUS = "bonus", _("Bonus")

    class Status(models.TextChoices):
        PENDING = "pending", _("On hold")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Makes accrual idempotent: a job run twice finds the reward it already made.
    key = models.CharField(max_length=200)
    partner = models.ForeignKey(
        "partners.PartnerProfile", on_delete=models.PROTECT, related_name="rewards"
    )
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    conversion = models.ForeignKey(
        "programs.Conversion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rewards",
    )
    lead = models.ForeignKey(
        "programs.Lead", on_delete=models.PROTECT, null=True, blank=True, related_name="rewards"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    level = models.PositiveSmallIntegerField(default=1)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    flagged = models.BooleanField(_("held for review"), default=False)
    reason = models.CharField(_("reason shown to the partner"), max_length=300, blank=True)
    rule = models.JSONField(default=dict)  # the rule as it was, so edits never rewrite history
    available_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="reward_key_unique"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="reward_amount_gt_0"),
        ]
        indexes = [
            # The hold sweeper polls pending rewards that came due.
            models.Index(
                fields=["available_at"],
                condition=models.Q(status="pending"),
                name="reward_pending_due_idx",
            ),
            models.Index(fields=["tenant", "partner", "-created_at"]),
            models.Index(fields=["tenant", "program", "partner", "created_at"]),
            # The reward list, newest first, whole or by status.
            models.Index(fields=["tenant", "-created_at", "-id"], name="reward_tenant_created_idx"),
            models.Index(
                fields=["tenant", "status", "-created_at", "-id"], name="reward_tenant_status_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} ({self.get_kind_display()}, L{self.level})"


class LedgerEntry(TenantOwned):
    """An append-only money movement of one partner in one currency.

    Four balances are sums of the deltas: pending (on hold), available (may go
    negative after a clawback of paid money; it carries into the next payout),
    processing (requested payouts) and paid. A database trigger refuses updates and
    deletes.
    """

    class Kind(models.TextChoices):
        ACCRUAL = "accrual", _("Accrual")
        HOLD = "hold", _("Held for review")
        APPROVAL = "approval", _("Approval")
        REJECTION = "rejection", _("Rejection")
        ADJUSTMENT = "adjustment", _("Adjustment")
        PENALTY = "penalty", _("Penalty")
        CLAWBACK = "clawback", _("Clawback")
        PAYOUT = "payout", _("Payout requested")
        PAYOUT_RETURN = "payout_return", _("Payout returned")
        PAYOUT_PAID = "payout_paid", _("Paid out")
        FEE = "fee", _("Payout fee")

    id = models.BigAutoField(primary_key=True)
    key = models.CharField(max_length=200)  # idempotency: one movement per key
    partner = models.ForeignKey(
        "partners.PartnerProfile", on_delete=models.PROTECT, related_name="ledger"
    )
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    pending = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    available = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    processing = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    paid = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    reward = models.ForeignKey(
        Reward, on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    payout = models.ForeignKey(
        "rewards.PayoutRequest",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="entries",
    )
    # For accruals: the rule that produced it and, across currencies, the rate used.
    rule = models.JSONField(default=dict, blank=True)
    fx = models.JSONField(default=dict, blank=True)
    memo = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta(TenantOwned.Meta):
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="ledger_key_unique"),
        ]
        indexes = [
            models.Index(fields=["tenant", "partner", "currency"]),
            # A partner's ledger page (console and cabinet), newest first.
            models.Index(
                fields=["tenant", "partner", "-created_at", "-id"],
                name="ledger_partner_created_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.net} {self.currency}"

    @property
    def net(self) -> Decimal:
        return self.pending + self.available + self.processing + self.paid
