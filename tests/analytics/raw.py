"""Figures computed straight from the raw rows, independently of the rollups, for the
tests to compare the pages with."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Q, Sum

from antifraud.models import RiskAssessment
from programs.models import Click, Conversion, Lead
from rewards.models import LedgerEntry

EUR_USD = Decimal("1.10")
CENT = Decimal("0.01")


def in_usd(per_currency: dict[str, Decimal]) -> Decimal:
    rates = {"USD": Decimal(1), "EUR": EUR_USD}
    return sum((v * rates[c] for c, v in per_currency.items()), Decimal(0)).quantize(CENT)


def figures(**only: Any) -> dict[str, Any]:
    """Everything of the tenant in scope (all of it falls in the last 30 days)."""
    partner = only.get("partner")
    clicks = Click.objects.filter(status="accepted")
    leads = Lead.objects.all()
    conversions = Conversion.objects.all()
    ledger = LedgerEntry.objects.all()
    if partner is not None:
        clicks = clicks.filter(partner=partner)
        leads = leads.filter(Q(partner=partner) | Q(partner=None, registered_by=partner))
        conversions = conversions.filter(partner=partner)
        ledger = ledger.filter(partner=partner)
    revenue: dict[str, Decimal] = {}
    for row in conversions.values("currency").annotate(a=Sum("amount"), r=Sum("refunded_amount")):
        revenue[row["currency"]] = row["a"] - row["r"]
    accrued = {
        row["currency"]: row["s"]
        for row in ledger.filter(kind="accrual").values("currency").annotate(s=Sum("pending"))
    }
    approved = {
        row["currency"]: row["s"]
        for row in ledger.filter(kind="approval").values("currency").annotate(s=Sum("available"))
    }
    paid = {
        row["currency"]: row["s"]
        for row in ledger.filter(kind="payout_paid").values("currency").annotate(s=Sum("paid"))
    }
    n_clicks = clicks.count()
    flagged = RiskAssessment.objects.filter(level__in=["review", "reject"])
    return {
        "clicks": n_clicks,
        "visitors": clicks.values("program", "partner", "visitor_id").distinct().count(),
        "leads": leads.count(),
        "leads_converted": leads.filter(status="converted").count(),
        "leads_rejected": leads.filter(status="rejected").count(),
        "leads_duplicate": leads.exclude(duplicate_of=None).count(),
        "leads_flagged": leads.filter(pk__in=flagged.values("lead")).count(),
        "conversions": conversions.count(),
        "revenue": revenue,
        "accrued": accrued,
        "approved": approved,
        "paid": paid,
        "revenue_total": in_usd(revenue),
        "accrued_total": in_usd(accrued),
        "approved_total": in_usd(approved),
        "paid_total": in_usd(paid),
        "epc": (in_usd(accrued) / n_clicks).quantize(CENT) if n_clicks else None,
    }
