"""Reads of the console's reward and payout pages: querysets ready for a page."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet, Sum

from partners.models import PartnerProfile
from programs.models import Program
from rewards.models import (
    CorrectionRequest,
    LedgerEntry,
    PayoutBatch,
    PayoutMethod,
    PayoutRequest,
    Reward,
    RewardRule,
)

# The payout queue's tabs and the statuses each shows (failed ones sit with rejected).
PAYOUT_TABS: dict[str, list[str]] = {
    "requested": [PayoutRequest.Status.REQUESTED],
    "approved": [PayoutRequest.Status.APPROVED],
    "paid": [PayoutRequest.Status.PAID],
    "rejected": [PayoutRequest.Status.REJECTED, PayoutRequest.Status.FAILED],
}
SCOPE_ORDER = {"partner": 0, "group": 1, "program": 2}


def rewards_filtered(
    *,
    status: str = "",
    program: Program | None = None,
    partner: PartnerProfile | None = None,
    flagged: str = "",
    kind: str = "",
) -> QuerySet[Reward]:
    # The list shows none of the JSON trails (the rule as it was, attribution): not read.
    rewards = Reward.objects.select_related("partner__user", "program", "conversion", "lead").defer(
        "rule", "conversion__attribution", "lead__attribution"
    )
    if status:
        rewards = rewards.filter(status=status)
    if program is not None:
        rewards = rewards.filter(program=program)
    if partner is not None:
        rewards = rewards.filter(partner=partner)
    if flagged:
        rewards = rewards.filter(flagged=flagged == "yes")
    if kind:
        rewards = rewards.filter(kind=kind)
    return rewards.order_by("-created_at", "-pk")


def program_rules(program: Program) -> dict[str, list[RewardRule]]:
    """The program's active rules by scope, and the inactive ones apart."""
    rules: dict[str, list[RewardRule]] = {"program": [], "group": [], "partner": [], "inactive": []}
    queryset = RewardRule.objects.filter(program=program).select_related("group", "partner__user")
    for rule in queryset.order_by("event", "-created_at"):
        rules[rule.scope if rule.is_active else "inactive"].append(rule)
    return rules


def ledger_entries(partner: PartnerProfile) -> QuerySet[LedgerEntry]:
    return (
        LedgerEntry.objects.filter(partner=partner)
        .select_related("reward", "payout", "actor")
        .order_by("-created_at", "-id")
    )


def payouts_in_tab(tab: str) -> QuerySet[PayoutRequest]:
    return (
        PayoutRequest.objects.filter(status__in=PAYOUT_TABS[tab])
        .select_related("partner__user", "method", "batch")
        .order_by("-created_at", "-pk")
    )


def payout_tab_counts() -> dict[str, int]:
    by_status = dict(PayoutRequest.objects.values_list("status").annotate(n=Count("id")).order_by())
    return {
        tab: sum(by_status.get(s, 0) for s in statuses) for tab, statuses in PAYOUT_TABS.items()
    }


def methods_ready_to_batch() -> list[dict[str, Any]]:
    """Methods with approved payouts not yet in a batch, with their count and total."""
    rows = (
        PayoutRequest.objects.filter(status=PayoutRequest.Status.APPROVED, batch__isnull=True)
        .values("method")
        .annotate(n=Count("id"), total=Sum("amount"))
        .order_by()
    )
    counts = {row["method"]: row for row in rows}
    return [
        {"method": method, "count": counts[method.pk]["n"], "total": counts[method.pk]["total"]}
        for method in PayoutMethod.objects.filter(pk__in=counts.keys())
    ]


def recent_batches(limit: int = 20) -> QuerySet[PayoutBatch]:
    return (
        PayoutBatch.objects.select_related("method", "created_by")
        .annotate(payouts_count=Count("payouts"), payouts_total=Sum("payouts__amount"))
        .order_by("-created_at")[:limit]
    )


def corrections_waiting(partner: PartnerProfile | None = None) -> list[CorrectionRequest]:
    """Corrections waiting for a second approval (few by nature: listed whole)."""
    qs = CorrectionRequest.objects.filter(status=CorrectionRequest.Status.PENDING)
    if partner is not None:
        qs = qs.filter(partner=partner)
    return list(qs.select_related("partner__user", "requested_by").order_by("requested_at")[:200])


def corrections_decided() -> QuerySet[CorrectionRequest]:
    return (
        CorrectionRequest.objects.exclude(status=CorrectionRequest.Status.PENDING)
        .select_related("partner__user", "requested_by", "decided_by")
        .order_by("-decided_at", "-pk")
    )
