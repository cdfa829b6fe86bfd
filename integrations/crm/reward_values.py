"""The "Reward on this lead" values pushed to the CRM (PRM → CRM only): the partner's
first-level reward for the lead, whether earned on the lead itself or on its conversion.

Looked up for a whole chunk of leads with one aggregate query (two when the status is
mapped), never per lead."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Case, CharField, F, Q, Sum, When

REWARD_FIELDS = ("reward_amount", "reward_currency", "reward_status")
# The lead's partner's balances: on hold, approved (available), paid.
PARTNER_FIELDS = {
    "partner_accrued": "pending",
    "partner_approved": "available",
    "partner_paid": "paid",
}
TO_CRM_ONLY = (*REWARD_FIELDS, *PARTNER_FIELDS)

# Machine values, the same in every language, so CRM filters and reports keep working.
PENDING, APPROVED, REJECTED, REVERSED = "pending", "approved", "rejected", "reversed"


def reward_values_for(lead_ids: Iterable[object], fields: set[str]) -> dict[str, dict[str, str]]:
    """{lead id: {"reward_amount": "150.00", "reward_currency": "USD", "reward_status":
    "approved"}}; leads without a reward get empty strings (a field cleared in the CRM
    when the reward went away)."""
    wanted = fields.intersection(REWARD_FIELDS)
    ids = [str(i) for i in lead_ids]
    if not wanted or not ids:
        return {}
    from rewards.models import LedgerEntry, Reward

    rows = (
        Reward.objects.filter(Q(lead_id__in=ids) | Q(conversion__lead_id__in=ids), level=1)
        .annotate(
            for_lead=Case(
                When(lead_id__isnull=False, then=F("lead_id")),
                default=F("conversion__lead_id"),
                output_field=CharField(),
            )
        )
        .values("for_lead", "currency", "status")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    statuses: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        key = str(row["for_lead"])
        statuses[key].add(row["status"])
        if row["status"] != Reward.Status.REJECTED:
            totals[key][row["currency"]] += row["total"]
    reversed_leads: set[str] = set()
    if "reward_status" in wanted and statuses:
        reversed_leads = {
            str(v)
            for v in LedgerEntry.objects.filter(
                Q(reward__lead_id__in=ids) | Q(reward__conversion__lead_id__in=ids),
                kind=LedgerEntry.Kind.CLAWBACK,
            )
            .annotate(
                for_lead=Case(
                    When(reward__lead_id__isnull=False, then=F("reward__lead_id")),
                    default=F("reward__conversion__lead_id"),
                    output_field=CharField(),
                )
            )
            .values_list("for_lead", flat=True)
            .distinct()
        }
    out: dict[str, dict[str, str]] = {}
    for key in ids:
        money = totals.get(key, {})
        # One currency per lead in practice (a program pays in one); if several, the
        # largest is shown, the others stay in the PRM.
        currency = max(money, key=lambda c: money[c]) if money else ""
        amount = f"{money[currency]:.2f}" if currency else ""
        seen = statuses.get(key, set())
        if key in reversed_leads:
            status = REVERSED
        elif Reward.Status.APPROVED in seen:
            status = APPROVED
        elif Reward.Status.PENDING in seen:
            status = PENDING
        elif seen:
            status = REJECTED
        else:
            status = ""
        every = {"reward_amount": amount, "reward_currency": currency, "reward_status": status}
        out[key] = {name: every[name] for name in wanted}
    return out


def partner_values_for(
    partner_ids: Iterable[object], fields: set[str]
) -> dict[str, dict[str, str]]:
    """{partner id: {"partner_accrued": "150.00 USD; 0.00 EUR", ...}}: each balance in
    every currency the partner's ledger has (in currency order; '' when it has none:
    a CRM keeps a blank as "no change", so a balance gone to zero reads 0.00), from one
    aggregate query of the ledger."""
    wanted = [f for f in PARTNER_FIELDS if f in fields]
    ids = {str(i) for i in partner_ids if i}
    if not wanted or not ids:
        return {}
    from rewards.models import LedgerEntry

    rows = (
        LedgerEntry.objects.filter(partner_id__in=ids)
        .values("partner_id", "currency")
        .annotate(pending=Sum("pending"), available=Sum("available"), paid=Sum("paid"))
        .order_by("partner_id", "currency")
    )
    parts: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        for name in wanted:
            amount = Decimal(row[PARTNER_FIELDS[name]] or 0).quantize(Decimal("0.01"))
            parts[str(row["partner_id"])][name].append(f"{amount} {row['currency']}")
    return {pid: {name: "; ".join(parts[pid][name]) for name in wanted} for pid in ids}
