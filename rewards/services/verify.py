"""Ledger invariants: every balance and every reward and payout must add up."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import Sum

from rewards.models import LedgerEntry, PayoutRequest, Reward
from rewards.services.approvals import clawback_due
from rewards.services.ledger import ZERO, money

# Which balance columns each kind may move, and in which direction (+1/-1; 0 = either).
SIGNS: dict[str, dict[str, int]] = {
    "accrual": {"pending": +1},
    "hold": {},
    "approval": {"pending": -1, "available": +1},
    "rejection": {"pending": -1},
    "adjustment": {"available": 0},
    "penalty": {"available": -1},
    "clawback": {"pending": -1, "available": -1},
    "payout": {"available": -1, "processing": +1},
    "payout_return": {"available": +1, "processing": -1},
    "fee": {"processing": -1},
    "payout_paid": {"processing": -1, "paid": +1},
}
COLUMNS = ("pending", "available", "processing", "paid")


def verify() -> list[str]:
    """All mismatches in the active tenant's ledger (an empty list means it is sound)."""
    problems: list[str] = []
    per_reward: dict[object, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    per_payout: dict[object, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    kinds_per_reward: dict[object, list[str]] = defaultdict(list)
    accrued: dict[object, Decimal] = {}
    clawed_back: dict[object, Decimal] = defaultdict(Decimal)
    for entry in LedgerEntry.objects.order_by("id").iterator():
        allowed = SIGNS.get(entry.kind)
        if allowed is None:
            problems.append(f"entry {entry.pk}: unknown kind {entry.kind}")
            continue
        for column in COLUMNS:
            value = getattr(entry, column)
            if value == 0:
                continue
            sign = allowed.get(column)
            if sign is None or (sign and (value > 0) != (sign > 0)):
                problems.append(f"entry {entry.pk} ({entry.kind}): {column} moved by {value}")
        if entry.reward_id:
            kinds_per_reward[entry.reward_id].append(entry.kind)
            if entry.kind == "accrual":
                accrued[entry.reward_id] = entry.pending
            elif entry.kind == "clawback":
                clawed_back[entry.reward_id] -= entry.pending + entry.available
            for column in COLUMNS:
                per_reward[entry.reward_id][column] += getattr(entry, column)
        if entry.payout_id:
            for column in COLUMNS:
                per_payout[entry.payout_id][column] += getattr(entry, column)

    for reward in Reward.objects.select_related("conversion").iterator():
        kinds = kinds_per_reward.get(reward.pk, [])
        sums = per_reward.get(reward.pk, {})
        if kinds.count("accrual") != 1:
            problems.append(f"reward {reward.pk}: {kinds.count('accrual')} accruals")
            continue
        if accrued[reward.pk] != reward.amount:
            problems.append(f"reward {reward.pk}: accrual {accrued[reward.pk]} != {reward.amount}")
        decided = kinds.count("approval") + kinds.count("rejection")
        if decided > 1:
            problems.append(f"reward {reward.pk}: approved/rejected {decided} times")
        pending = sums.get("pending", ZERO)
        if reward.status == Reward.Status.PENDING and pending < 0:
            problems.append(f"reward {reward.pk}: negative pending {pending}")
        if reward.status != Reward.Status.PENDING and pending != 0:
            problems.append(f"reward {reward.pk} is {reward.status} but {pending} still pending")
        if (reward.status == Reward.Status.PENDING) != (decided == 0):
            problems.append(f"reward {reward.pk}: status {reward.status} vs {decided} decisions")
        clawed = clawed_back.get(reward.pk, ZERO)
        if clawed > reward.amount:
            problems.append(f"reward {reward.pk}: clawed back {clawed} of {reward.amount}")
        conversion = reward.conversion
        if conversion is not None and reward.status != Reward.Status.REJECTED:
            # Every refund's share must have been taken back, to the cent, whichever
            # of the accrual and the clawback jobs ran first.
            due = clawback_due(reward, conversion)
            if clawed != due:
                problems.append(
                    f"reward {reward.pk}: clawed back {clawed}, but the refunds of "
                    f"{conversion.refunded_amount} of {conversion.amount} take {due}"
                )

    for payout in PayoutRequest.objects.all().iterator():
        sums = per_payout.get(payout.pk, {})
        expected = {
            PayoutRequest.Status.REQUESTED: (payout.amount, ZERO),
            PayoutRequest.Status.APPROVED: (payout.amount, ZERO),
            PayoutRequest.Status.PAID: (ZERO, payout.amount - payout.fee),
            PayoutRequest.Status.REJECTED: (ZERO, ZERO),
            PayoutRequest.Status.FAILED: (ZERO, ZERO),
        }[PayoutRequest.Status(payout.status)]
        got = (sums.get("processing", ZERO), sums.get("paid", ZERO))
        if got != expected:
            problems.append(
                f"payout {payout.pk} ({payout.status}): processing/paid {got} != {expected}"
            )

    balances = (
        LedgerEntry.objects.values("partner_id", "currency")
        .annotate(pending=Sum("pending"), processing=Sum("processing"), paid=Sum("paid"))
        .order_by()
    )
    for row in balances:
        for column in ("pending", "processing", "paid"):
            if money(row[column]) < 0:
                problems.append(
                    f"partner {row['partner_id']} {row['currency']}: {column} is {row[column]}"
                )
    return problems
