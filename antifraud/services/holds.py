"""What a decision does to the money: release or reject the rewards an assessment held.

Written on top of ``rewards.services.approvals``: a release unflags the subject's
held rewards, so the normal approval (after the hold period) takes them; a rejection
rejects each pending one with the reason the partner sees.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from antifraud.models import RiskAssessment
from prm.models import User
from rewards.models import Reward
from rewards.services.approvals import reward_reject


def subject_rewards(assessment: RiskAssessment) -> QuerySet[Reward]:
    """The rewards an assessment's subject earned: a lead's or a conversion's (upline
    shares included). A partner assessed as a whole holds none by itself."""
    if assessment.subject == RiskAssessment.Subject.LEAD:
        return Reward.objects.filter(lead_id=assessment.lead_id)
    if assessment.subject == RiskAssessment.Subject.CONVERSION:
        return Reward.objects.filter(conversion_id=assessment.conversion_id)
    return Reward.objects.none()


def release_subject_rewards(assessment: RiskAssessment, *, actor: User | None = None) -> int:
    """Unflag the subject's held rewards (a conditional update: run twice, it releases
    once); the hold sweeper approves them when their hold period ends."""
    return (
        subject_rewards(assessment)
        .filter(status=Reward.Status.PENDING, flagged=True)
        .update(flagged=False)
    )


def reject_subject_rewards(
    assessment: RiskAssessment, reason: str, *, actor: User | None = None
) -> int:
    """Reject each of the subject's pending rewards with ``reason`` (shown to the
    partner); one decided meanwhile is skipped."""
    rejected = 0
    pending = subject_rewards(assessment).filter(status=Reward.Status.PENDING)
    for reward in pending.select_related("partner", "tenant"):
        try:
            reward_reject(reward=reward, actor=actor, reason=reason)
        except ValidationError:
            continue
        rejected += 1
    return rejected
