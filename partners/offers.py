"""What a partner earns in each open program, in words, from the programs' own reward
rules (the program-wide ones: group and personal rules are not public)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch
from django.utils.translation import gettext as _

from programs.models import Program
from programs.selectors import joinable_programs
from rewards.models import RewardRule

OFFERS_SHOWN = 12


@dataclass(frozen=True)
class Offer:
    program: str
    product: str
    rewards: list[str]
    after_approval: bool


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def rule_text(rule: RewardRule, currency: str) -> str:
    """``"20% of every payment, for the customer's lifetime"``, ``"10 USD per lead"``."""
    value = _plain(rule.value)
    if rule.event == RewardRule.Event.LEAD:
        if rule.kind == RewardRule.Kind.PERCENT:
            return _("%(value)s%% per qualified lead") % {"value": value}
        return _("%(value)s %(currency)s per lead") % {"value": value, "currency": currency}
    if rule.kind == RewardRule.Kind.PERCENT:
        amount = _("%(value)s%% of the sale") % {"value": value}
    else:
        amount = _("%(value)s %(currency)s per sale") % {"value": value, "currency": currency}
    if rule.recurring == RewardRule.Recurring.LIFETIME:
        return _("%(amount)s, on every payment for the customer's lifetime") % {"amount": amount}
    if rule.recurring == RewardRule.Recurring.FIRST_N and rule.recurring_count:
        return _("%(amount)s, on the first %(n)d payments") % {
            "amount": amount,
            "n": rule.recurring_count,
        }
    return amount


def public_offers() -> list[Offer]:
    """Open programs with their program-wide active rules: two queries."""
    rules = RewardRule.objects.filter(
        group__isnull=True, partner__isnull=True, is_active=True
    ).order_by("event", "-created_at")
    programs = joinable_programs().prefetch_related(
        Prefetch("reward_rules", queryset=rules, to_attr="public_rules")
    )[:OFFERS_SHOWN]
    return [
        Offer(
            program=p.name,
            product=p.product,
            rewards=[rule_text(r, p.currency) for r in p.public_rules],  # type: ignore[attr-defined]
            after_approval=p.join_policy == Program.JoinPolicy.APPROVAL,
        )
        for p in programs
    ]
