"""A person's decision on a flagged lead, conversion or partner: approve (release the
held rewards), reject (reject them with a reason the partner sees) or allow (record an
exception for every signal that fired, so the same pair does not flag again, then
approve). Every decision is audited.

A decision is a conditional update of the assessment (``decision=""`` → decided) in
the same transaction as what it does to the rewards: a second click, a second tab or
a second reviewer finds the item decided and changes nothing, so a held reward is
released (and later enters the ledger) exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from antifraud.models import RiskAssessment, RiskException
from antifraud.services.holds import reject_subject_rewards, release_subject_rewards
from prm.audit import audit_record
from prm.models import Tenant, User

ALREADY_DECIDED = _("This item was already decided otherwise.")
NOTHING_HELD = _("Only items held for review or rejected by their score can be decided.")
NEEDS_REASON = _("Give a reason the partner will see.")

Decision = RiskAssessment.Decision
FLAGGED_LEVELS = (RiskAssessment.Level.REVIEW, RiskAssessment.Level.REJECT)


class Action(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    ALLOW = "allow"


@dataclass
class BulkResult:
    done: int = 0
    unchanged: int = 0  # already decided the same way: nothing to do
    refused: list[tuple[int, str]] = field(default_factory=list)  # (id, why)


def waiting_cache_key(tenant: Tenant) -> str:
    return f"antifraud:waiting:{tenant.pk}"


def _forget_waiting(tenant: Tenant) -> None:
    transaction.on_commit(lambda: cache.delete(waiting_cache_key(tenant)))


def _decide(
    *,
    assessment: RiskAssessment,
    actor: User,
    decision: str,
    note: str,
    partner_reason: str | None = None,
) -> bool:
    """Mark the assessment decided; False if it already was (the same way)."""
    if assessment.level not in FLAGGED_LEVELS:
        raise ValidationError(NOTHING_HELD)
    fields: dict[str, object] = {
        "decision": decision,
        "decided_by": actor,
        "decided_at": timezone.now(),
        "decision_note": note[:300],
    }
    if partner_reason is not None:
        fields["partner_reason"] = partner_reason[:300]
    updated = RiskAssessment.objects.filter(pk=assessment.pk, decision=Decision.NONE).update(
        **fields
    )
    if not updated:
        current = RiskAssessment.objects.filter(pk=assessment.pk).values_list("decision", flat=True)
        if list(current) == [decision]:
            return False
        raise ValidationError(ALREADY_DECIDED)
    for name, value in fields.items():
        setattr(assessment, name, value)
    return True


def assessment_approve(
    *,
    assessment: RiskAssessment,
    actor: User,
    note: str = "",
    request: HttpRequest | None = None,
) -> int:
    """Release the rewards the assessment held; returns how many were released."""
    with transaction.atomic():
        if not _decide(assessment=assessment, actor=actor, decision=Decision.APPROVED, note=note):
            return 0
        released = release_subject_rewards(assessment, actor=actor)
        audit_record(
            tenant=assessment.tenant,
            actor=actor,
            action="risk.approve",
            obj=assessment,
            before={"decision": ""},
            after={"decision": Decision.APPROVED, "released": released, "note": note},
            request=request,
        )
        _forget_waiting(assessment.tenant)
    return released


def assessment_reject(
    *,
    assessment: RiskAssessment,
    actor: User,
    reason: str,
    request: HttpRequest | None = None,
) -> int:
    """Reject the subject's pending rewards with ``reason`` (the partner reads it);
    returns how many were rejected."""
    reason = reason.strip()
    if not reason:
        raise ValidationError(NEEDS_REASON)
    with transaction.atomic():
        decided = _decide(
            assessment=assessment,
            actor=actor,
            decision=Decision.REJECTED,
            note=reason,
            partner_reason=reason,
        )
        if not decided:
            return 0
        rejected = reject_subject_rewards(assessment, reason, actor=actor)
        audit_record(
            tenant=assessment.tenant,
            actor=actor,
            action="risk.reject",
            obj=assessment,
            before={"decision": ""},
            after={"decision": Decision.REJECTED, "rejected": rejected, "reason": reason},
            request=request,
        )
        _forget_waiting(assessment.tenant)
    return rejected


def assessment_allow(
    *,
    assessment: RiskAssessment,
    actor: User,
    note: str = "",
    request: HttpRequest | None = None,
) -> int:
    """Record an exception for each fired signal's (code, partner, matched key), then
    approve; returns how many rewards were released."""
    with transaction.atomic():
        if not _decide(assessment=assessment, actor=actor, decision=Decision.APPROVED, note=note):
            return 0
        allowed = []
        for code, match_key in assessment.signals.values_list("code", "match_key"):
            RiskException.objects.get_or_create(
                tenant=assessment.tenant,
                code=code,
                partner_id=assessment.partner_id,
                match_key=match_key,
                defaults={"note": note[:200], "created_by": actor},
            )
            allowed.append(f"{code}:{match_key}" if match_key else code)
        released = release_subject_rewards(assessment, actor=actor)
        audit_record(
            tenant=assessment.tenant,
            actor=actor,
            action="risk.allow",
            obj=assessment,
            before={"decision": ""},
            after={
                "decision": Decision.APPROVED,
                "allowed": ", ".join(allowed),
                "released": released,
                "note": note,
            },
            request=request,
        )
        _forget_waiting(assessment.tenant)
    return released


def assessments_decide(
    *,
    assessments: Iterable[RiskAssessment],
    action: Action,
    actor: User,
    reason: str = "",
    request: HttpRequest | None = None,
) -> BulkResult:
    """Decide many items, each in its own transaction: one that was decided meanwhile
    (or cannot be) is reported, and the others still go through."""
    result = BulkResult()
    if action == Action.REJECT and not reason.strip():
        raise ValidationError(NEEDS_REASON)
    for assessment in assessments:
        before = assessment.decision
        try:
            if action == Action.APPROVE:
                assessment_approve(assessment=assessment, actor=actor, note=reason, request=request)
            elif action == Action.ALLOW:
                assessment_allow(assessment=assessment, actor=actor, note=reason, request=request)
            else:
                assessment_reject(
                    assessment=assessment, actor=actor, reason=reason, request=request
                )
        except ValidationError as exc:
            result.refused.append((assessment.pk, " ".join(exc.messages)))
            continue
        if before == assessment.decision and before != Decision.NONE:
            result.unchanged += 1
        elif assessment.decision == Decision.NONE:
            result.unchanged += 1  # decided meanwhile, the same way
        else:
            result.done += 1
    return result
