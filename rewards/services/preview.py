"""The rule preview: what the program's top partners earned last month under the
current rules, and what they would have earned with one rule edited (nothing is saved).

Each conversion goes through the accrual's own calculation
(``accrual.conversion_calculation``), so the preview and real accruals agree on
minimum orders, new customers, subscriptions, tiers and the per-conversion cap. Only the
monthly cap is applied here, over the simulated month: the accrual measures it against
rewards already in the ledger, which were made under the rules that were in force.
Eligibility (blocked partners, paused enrollments) and the program budget are left out:
the preview compares rules, not who was paid.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Count
from django.utils import timezone

from partners.models import PartnerProfile
from programs.models import Conversion, Lead, Program
from rewards.models import RewardRule
from rewards.services import fx
from rewards.services.accrual import conversion_calculation, month_start
from rewards.services.ledger import ZERO, money

TOP_PARTNERS = 10


@dataclass
class PreviewRow:
    partner: PartnerProfile
    conversions: int = 0
    leads: int = 0
    revenue: Decimal = ZERO  # in the program's currency
    current: Decimal = ZERO
    edited: Decimal = ZERO
    missing_rates: int = 0  # conversions left out: no exchange rate for their day
    affected: bool = False  # the edited rule is the one that applies to this partner

    @property
    def difference(self) -> Decimal:
        return self.edited - self.current


@dataclass
class Preview:
    start: datetime
    end: datetime
    currency: str
    rows: list[PreviewRow] = field(default_factory=list)

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()

    @property
    def current_total(self) -> Decimal:
        return sum((row.current for row in self.rows), ZERO)

    @property
    def edited_total(self) -> Decimal:
        return sum((row.edited for row in self.rows), ZERO)

    @property
    def difference(self) -> Decimal:
        return self.edited_total - self.current_total


def last_month(now: datetime) -> tuple[datetime, datetime]:
    """[first instant of last calendar month, first instant of this one)."""
    end = month_start(now)
    return month_start(end - timedelta(days=1)), end


def applicable(rules: list[RewardRule], partner: PartnerProfile) -> RewardRule | None:
    """The rule that applies to ``partner``: their own, else their group's, else the
    program's (the precedence of ``rules.rule_for``, over rules in memory)."""
    by_scope: dict[str, RewardRule] = {}
    for rule in rules:
        if rule.partner_id is not None and rule.partner_id != partner.pk:
            continue
        if rule.group_id is not None and rule.group_id != partner.group_id:
            continue
        by_scope[rule.scope] = rule
    return by_scope.get("partner") or by_scope.get("group") or by_scope.get("program")


def rule_preview(
    *, program: Program, rule: RewardRule, now: datetime | None = None, limit: int = TOP_PARTNERS
) -> Preview:
    """Last month of the ``limit`` partners with the most revenue in ``program``, under
    the active rules and under the same rules with ``rule`` (unsaved, new or edited) in
    place of its saved version."""
    start, end = last_month(now or timezone.now())
    preview = Preview(start=start, end=end, currency=program.currency)
    saved = list(RewardRule.objects.filter(program=program, event=rule.event, is_active=True))
    current_rules = saved
    edited_rules = [r for r in saved if r.pk != rule.pk] + ([rule] if rule.is_active else [])

    conversions = (
        Conversion.objects.filter(
            program=program, partner__isnull=False, occurred_at__gte=start, occurred_at__lt=end
        )
        .select_related("program", "partner__user")
        .order_by("occurred_at", "pk")
    )
    rows: dict[object, PreviewRow] = {}
    converted: dict[object, list[tuple[Conversion, Decimal]]] = defaultdict(list)
    for conversion in conversions:
        partner = conversion.partner
        assert partner is not None  # filtered above
        row = rows.setdefault(partner.pk, PreviewRow(partner=partner))
        try:
            amount, _snapshot = fx.convert(
                conversion.amount,
                conversion.currency,
                program.currency,
                conversion.occurred_at.date(),
            )
        except ValidationError:
            row.missing_rates += 1
            continue
        row.conversions += 1
        row.revenue += money(amount)
        converted[partner.pk].append((conversion, amount))

    top = sorted(rows.values(), key=lambda r: (-r.revenue, str(r.partner)))[:limit]
    lead_counts = _lead_counts(program, [row.partner for row in top], start, end)
    for row in top:
        current = applicable(current_rules, row.partner)
        edited = applicable(edited_rules, row.partner)
        row.affected = edited is rule or current is not edited
        if rule.event == RewardRule.Event.LEAD:
            row.leads = lead_counts.get(row.partner.pk, 0)
            row.current = _lead_total(current, row.leads)
            row.edited = _lead_total(edited, row.leads)
            continue
        items = converted[row.partner.pk]
        row.current = _month_total(current, items)
        row.edited = row.current if edited is current else _month_total(edited, items)
    preview.rows = top
    return preview


def _month_total(rule: RewardRule | None, items: list[tuple[Conversion, Decimal]]) -> Decimal:
    """Level-1 rewards of one partner's month under ``rule``, monthly cap included."""
    if rule is None:
        return ZERO
    cap = rule.cap_per_partner_month
    uncapped = copy.copy(rule)
    uncapped.cap_per_partner_month = None
    total = ZERO
    for conversion, amount in items:
        reward = conversion_calculation(conversion, uncapped, amount).amount
        if cap is not None:
            reward = min(reward, max(cap - total, ZERO))
        total += reward
    return money(total)


def _lead_total(rule: RewardRule | None, leads: int) -> Decimal:
    # Leads earn only a fixed amount (see accrual.accrue_lead).
    if rule is None or rule.kind != RewardRule.Kind.FIXED:
        return ZERO
    return money(rule.value * leads)


def _lead_counts(
    program: Program, partners: list[PartnerProfile], start: datetime, end: datetime
) -> dict[object, int]:
    rows = (
        Lead.objects.filter(
            program=program,
            partner__in=partners,
            duplicate_of__isnull=True,
            created_at__gte=start,
            created_at__lt=end,
        )
        .values("partner")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["partner"]: row["n"] for row in rows}
