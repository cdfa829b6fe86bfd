"""Which reward rule applies, and what it pays (pure calculation, no writes).

Precedence: a partner's own rule, else their group's, else the program's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from partners.models import PartnerProfile
from programs.models import Program
from rewards.models import RewardRule
from rewards.services.ledger import ZERO, money


def rule_for(program: Program, partner: PartnerProfile, event: str) -> RewardRule | None:
    rules = {
        r.scope: r
        for r in RewardRule.objects.filter(program=program, event=event, is_active=True).filter(
            models_q_for(partner)
        )
    }
    return rules.get("partner") or rules.get("group") or rules.get("program")


def models_q_for(partner: PartnerProfile) -> Any:
    from django.db.models import Q

    q = Q(partner__isnull=True, group__isnull=True) | Q(partner=partner)
    if partner.group_id:
        q |= Q(group_id=partner.group_id, partner__isnull=True)
    return q


def snapshot(rule: RewardRule) -> dict[str, Any]:
    """The rule as it was, stored on every accrual."""
    return {
        "id": str(rule.pk),
        "scope": rule.scope,
        "scope_label": str(rule.scope_label),
        "event": rule.event,
        "kind": rule.kind,
        "value": str(rule.value),
        "recurring": rule.recurring,
        "recurring_count": rule.recurring_count,
        "min_order_amount": str(rule.min_order_amount) if rule.min_order_amount else None,
        "new_customers_only": rule.new_customers_only,
        "cap_per_conversion": str(rule.cap_per_conversion) if rule.cap_per_conversion else None,
        "cap_per_partner_month": (
            str(rule.cap_per_partner_month) if rule.cap_per_partner_month else None
        ),
        "tiers": rule.tiers,
    }


@dataclass
class Volume:
    """The partner's month so far in the program (this conversion included)."""

    conversions: int = 0
    revenue: Decimal = ZERO
    rewarded: Decimal = ZERO  # level-1 conversion rewards already accrued this month


@dataclass
class Calculation:
    amount: Decimal = ZERO
    notes: list[str] = field(default_factory=list)
    rate: Decimal | None = None


def tier_value(rule: RewardRule, volume: Volume) -> tuple[Decimal, str]:
    value, label = rule.value, ""
    for tier in rule.tiers or []:
        try:
            tier_rate = Decimal(str(tier["value"]))
        except (KeyError, ArithmeticError, ValueError):
            continue
        reached = (
            "min_conversions" in tier and volume.conversions >= int(tier["min_conversions"])
        ) or ("min_revenue" in tier and volume.revenue >= Decimal(str(tier["min_revenue"])))
        if reached and tier_rate > value:
            value, label = tier_rate, f"tier reached: {tier}"
    return value, label


def calculate(
    rule: RewardRule,
    *,
    amount: Decimal,
    kind: str,
    prior_payments: int,
    is_new_customer: bool,
    volume: Volume,
) -> Calculation:
    """What ``rule`` pays for a conversion of ``amount`` (in the program's currency)."""
    result = Calculation()
    if amount <= 0:
        # A won CRM deal with no amount is recorded, but a sale of nothing earns nothing.
        result.notes.append("a sale of zero earns nothing")
        return result
    if rule.min_order_amount is not None and amount < rule.min_order_amount:
        result.notes.append(f"below the minimum order of {rule.min_order_amount}")
        return result
    if rule.new_customers_only and not is_new_customer:
        result.notes.append("not a new customer")
        return result
    if kind == "subscription":
        if rule.recurring == RewardRule.Recurring.FIRST and prior_payments > 0:
            result.notes.append("only the first payment is rewarded")
            return result
        if rule.recurring == RewardRule.Recurring.FIRST_N and prior_payments >= (
            rule.recurring_count or 0
        ):
            result.notes.append(f"only the first {rule.recurring_count} payments are rewarded")
            return result
    value, tier_note = tier_value(rule, volume)
    if tier_note:
        result.notes.append(tier_note)
    result.rate = value
    reward = value if rule.kind == RewardRule.Kind.FIXED else amount * value / Decimal(100)
    reward = money(reward)
    if rule.cap_per_conversion is not None and reward > rule.cap_per_conversion:
        reward = rule.cap_per_conversion
        result.notes.append(f"capped at {rule.cap_per_conversion} per conversion")
    if rule.cap_per_partner_month is not None:
        room = max(rule.cap_per_partner_month - volume.rewarded, ZERO)
        if reward > room:
            reward = room
            result.notes.append(f"monthly cap of {rule.cap_per_partner_month} reached")
    result.amount = money(reward)
    return result
