from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.tenancy import TenantOwned


class RewardRule(TenantOwned):
    """How much a partner earns for a lead or a conversion in a program.

    Scope: the program (no group, no partner), a partner group, or one partner; the
    most specific active rule wins: partner over group over program.
    """

    class Event(models.TextChoices):
        LEAD = "lead", _("Lead")
        CONVERSION = "conversion", _("Conversion")

    class Kind(models.TextChoices):
        FIXED = "fixed", _("Fixed amount")
        PERCENT = "percent", _("Percent of the amount")

    class Recurring(models.TextChoices):
        FIRST = "first", _("First payment only")
        FIRST_N = "first_n", _("First N subscription payments")
        LIFETIME = "lifetime", _("Every payment, for the customer's lifetime")

    class ReferredReward(models.TextChoices):
        NONE = "none", _("Nothing")
        DISCOUNT = "discount", _("Discount, percent (promo code)")
        CREDIT = "credit", _("Account credit")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey(
        "programs.Program", on_delete=models.CASCADE, related_name="reward_rules"
    )
    group = models.ForeignKey(
        "rewards.PartnerGroup", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    partner = models.ForeignKey(
        "partners.PartnerProfile",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reward_rules",
    )
    event = models.CharField(_("rewarded event"), max_length=16, choices=Event.choices)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.PERCENT)
    value = models.DecimalField(_("amount or percent"), max_digits=12, decimal_places=2)
    recurring = models.CharField(
        _("subscription payments"),
        max_length=16,
        choices=Recurring.choices,
        default=Recurring.LIFETIME,
    )
    recurring_count = models.PositiveIntegerField(_("N payments"), null=True, blank=True)
    min_order_amount = models.DecimalField(
        _("minimum order amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    new_customers_only = models.BooleanField(_("new customers only"), default=False)
    cap_per_conversion = models.DecimalField(
        _("cap per conversion"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    cap_per_partner_month = models.DecimalField(
        _("cap per partner per month"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    # [{"min_conversions": 10, "value": "25"}, {"min_revenue": "5000", "value": "30"}]:
    # the partner's volume this month picks the highest tier reached.
    tiers = models.JSONField(_("tiers"), default=list, blank=True)
    referred_reward = models.CharField(
        _("the referred customer gets"),
        max_length=16,
        choices=ReferredReward.choices,
        default=ReferredReward.NONE,
    )
    referred_value = models.DecimalField(
        _("their discount or credit"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwned.Meta):
        ordering = ["program", "event"]
        constraints = [
            models.CheckConstraint(condition=models.Q(value__gte=0), name="rule_value_gte_0"),
            models.CheckConstraint(
                condition=~(models.Q(group__isnull=False) & models.Q(partner__isnull=False)),
                name="rule_group_or_partner",
            ),
            models.UniqueConstraint(
                fields=["program", "event"],
                condition=models.Q(group__isnull=True, partner__isnull=True, is_active=True),
                name="rule_one_program_rule",
            ),
            models.UniqueConstraint(
                fields=["program", "event", "group"],
                condition=models.Q(group__isnull=False, is_active=True),
                name="rule_one_group_rule",
            ),
            models.UniqueConstraint(
                fields=["program", "event", "partner"],
                condition=models.Q(partner__isnull=False, is_active=True),
                name="rule_one_partner_rule",
            ),
        ]

    def __str__(self) -> str:
        unit = "%" if self.kind == self.Kind.PERCENT else ""
        return f"{self.get_event_display()}: {self.value}{unit} ({self.scope_label})"

    @property
    def scope(self) -> str:
        if self.partner_id:
            return "partner"
        if self.group_id:
            return "group"
        return "program"

    @property
    def scope_label(self) -> str:
        if self.partner_id:
            return str(self.partner)
        if self.group_id:
            return str(self.group)
        return str(_("everyone"))


class BonusRule(TenantOwned):
    """A one-off bonus when a partner reaches a threshold within a calendar month."""

    class Metric(models.TextChoices):
        CONVERSIONS = "conversions", _("Number of conversions")
        REVENUE = "revenue", _("Revenue")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey(
        "programs.Program", on_delete=models.CASCADE, related_name="bonus_rules"
    )
    group = models.ForeignKey(
        "rewards.PartnerGroup", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    metric = models.CharField(_("threshold on"), max_length=16, choices=Metric.choices)
    threshold = models.DecimalField(_("threshold"), max_digits=14, decimal_places=2)
    amount = models.DecimalField(_("bonus"), max_digits=12, decimal_places=2)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["program", "threshold"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(threshold__gt=0), name="bonus_threshold_gt_0"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="bonus_amount_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} at {self.threshold} {self.metric}"
