"""What the stored assessments say about rewards that are being made or approved.

Read by the rewards engine (imported lazily there: rewards does not depend on
antifraud at import time), so that the order in which accrual, scoring and the
approval sweeper run never matters:

* accrual after scoring: ``verdicts`` (one query per batch) says which new rewards
  are born held or rejected;
* approval before scoring: ``scored_q`` keeps a reward from approving on its own while
  its lead or conversion has no assessment yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q

from antifraud.models import RiskAssessment

HOLD = "hold"
REJECT = "reject"


@dataclass(frozen=True)
class Verdict:
    action: str  # HOLD | REJECT
    reason: str  # for REJECT: what the partner reads


def verdict_of(level: str, decision: str, partner_reason: str) -> Verdict | None:
    """What a new reward of a subject at ``level`` with ``decision`` must be born as."""
    if decision == RiskAssessment.Decision.APPROVED:
        return None  # a person cleared it
    if decision == RiskAssessment.Decision.REJECTED or level == RiskAssessment.Level.REJECT:
        return Verdict(REJECT, partner_reason or "Rejected after a risk review.")
    if level == RiskAssessment.Level.REVIEW:
        return Verdict(HOLD, "")
    return None


def verdicts(
    *, conversion_ids: Iterable[Any] = (), lead_ids: Iterable[Any] = ()
) -> dict[Any, Verdict]:
    """Subject id → verdict, for the subjects whose assessment holds or rejects: one
    query (through the one-assessment-per-subject indexes)."""
    conversion_ids, lead_ids = list(conversion_ids), list(lead_ids)
    match = Q()
    if conversion_ids:
        match |= Q(subject=RiskAssessment.Subject.CONVERSION, conversion_id__in=conversion_ids)
    if lead_ids:
        match |= Q(subject=RiskAssessment.Subject.LEAD, lead_id__in=lead_ids)
    if not match:
        return {}
    out: dict[Any, Verdict] = {}
    rows = (
        RiskAssessment.objects.filter(match)
        .exclude(level=RiskAssessment.Level.OK, decision="")
        .values_list("conversion_id", "lead_id", "level", "decision", "partner_reason")
    )
    for conversion_id, lead_id, level, decision, reason in rows:
        verdict = verdict_of(level, decision, reason)
        if verdict is not None:
            out[conversion_id or lead_id] = verdict
    return out


def scored_q() -> Q:
    """Rewards whose lead and conversion (where they have one) are scored. Set-based:
    two index-backed EXISTS per row; used across tenants by the approval sweeper."""
    by_conversion = RiskAssessment.all_tenants_unscoped.filter(
        tenant_id=OuterRef("tenant_id"),
        subject=RiskAssessment.Subject.CONVERSION,
        conversion_id=OuterRef("conversion_id"),
    )
    by_lead = RiskAssessment.all_tenants_unscoped.filter(
        tenant_id=OuterRef("tenant_id"),
        subject=RiskAssessment.Subject.LEAD,
        lead_id=OuterRef("lead_id"),
    )
    return (Q(conversion_id__isnull=True) | Exists(by_conversion)) & (
        Q(lead_id__isnull=True) | Exists(by_lead)
    )
