"""What an assessment does to its subject's rewards: hold, release, reject.

Set-based (one conditional update and one multi-row insert per call, whatever the
number of rewards) except rejections, which go through ``approvals.reward_reject``
one reward at a time under the partner's lock (rare: only at the reject level).

Every transition is a conditional update, so calling any of these twice — a job
delivered twice, a reviewer double-clicking — changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from antifraud.models import RiskAssessment
from partners.models import PartnerProfile
from prm.models import Tenant, User
from rewards.models import LedgerEntry, Reward
from rewards.services.ledger import ZERO

HOLD_MEMO = "antifraud: held for review"
DEFAULT_REASON = "Rejected after a risk review."


def _rewards_of(assessments: Iterable[RiskAssessment]) -> QuerySet[Reward]:
    """The rewards earned through the assessed leads and conversions (upline shares
    included: they carry the same lead or conversion). Partner assessments hold none."""
    leads = [a.lead_id for a in assessments if a.subject == RiskAssessment.Subject.LEAD]
    conversions = [
        a.conversion_id for a in assessments if a.subject == RiskAssessment.Subject.CONVERSION
    ]
    if not leads and not conversions:
        return Reward.objects.none()
    match = Q()
    if leads:
        match |= Q(lead_id__in=leads)
    if conversions:
        match |= Q(conversion_id__in=conversions)
    return Reward.objects.filter(match)


def hold_rewards(rewards: QuerySet[Reward], *, memo: str = HOLD_MEMO) -> int:
    """Flag the pending, unflagged rewards of ``rewards`` (they no longer approve on
    their own) and record a hold entry for each, in two statements."""
    with transaction.atomic():
        ids = list(
            rewards.filter(status=Reward.Status.PENDING, flagged=False).values_list("pk", flat=True)
        )
        if not ids:
            return 0
        # The partners' locks, as approval and accrual take them (by primary key): an
        # approval in flight finishes first, or sees the flag.
        list(
            PartnerProfile.objects.select_for_update(no_key=True)
            .filter(pk__in=Reward.objects.filter(pk__in=ids).values("partner_id"))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        held = list(
            Reward.objects.filter(
                pk__in=ids, status=Reward.Status.PENDING, flagged=False
            ).values_list("pk", "tenant_id", "partner_id", "currency")
        )
        Reward.objects.filter(pk__in=[h[0] for h in held]).update(flagged=True)
        LedgerEntry.objects.bulk_create(
            [
                LedgerEntry(
                    tenant_id=tenant_id,
                    partner_id=partner_id,
                    currency=currency,
                    kind=LedgerEntry.Kind.HOLD,
                    key=f"hold:{pk}",
                    pending=ZERO,
                    available=ZERO,
                    processing=ZERO,
                    paid=ZERO,
                    reward_id=pk,
                    memo=memo[:300],
                )
                for pk, tenant_id, partner_id, currency in held
            ],
            ignore_conflicts=True,  # a reward held, released and held again: one entry
        )
    return len(held)


def hold_subject_rewards(assessments: Iterable[RiskAssessment]) -> int:
    return hold_rewards(_rewards_of(list(assessments)))


def reject_rewards(rewards: QuerySet[Reward], *, reason: str, actor: User | None = None) -> int:
    """Reject the rewards of ``rewards`` still pending (flagged or not) with ``reason``,
    which the partner reads. Approved ones are left alone (a clawback is a person's call)."""
    from rewards.services.approvals import reward_reject

    done = 0
    for reward in (
        rewards.filter(status=Reward.Status.PENDING)
        .select_related("partner", "tenant")
        .order_by("partner_id", "pk")
    ):
        try:
            reward_reject(reward=reward, actor=actor, reason=reason)
        except ValidationError:
            continue  # decided meanwhile by someone else
        done += 1
    return done


def reject_subjects_rewards(assessments: list[RiskAssessment]) -> int:
    """``reject_subject_rewards`` for many assessments: one query finds their pending
    rewards (usually none: a lead scored before its accrual), then each is rejected
    with its own subject's partner reason."""
    if not assessments:
        return 0
    reason_of: dict[Any, str] = {}
    for a in assessments:
        reason_of[a.lead_id or a.conversion_id] = a.partner_reason or DEFAULT_REASON
    pending = list(
        _rewards_of(assessments)
        .filter(status=Reward.Status.PENDING)
        .values_list("pk", "lead_id", "conversion_id")
    )
    by_reason: dict[str, list[Any]] = {}
    for pk, lead_id, conversion_id in pending:
        by_reason.setdefault(reason_of[lead_id or conversion_id], []).append(pk)
    return sum(
        reject_rewards(Reward.objects.filter(pk__in=ids), reason=reason)
        for reason, ids in by_reason.items()
    )


def reject_subject_rewards(
    assessment: RiskAssessment, reason: str, *, actor: User | None = None
) -> int:
    """Reject the pending rewards of the assessed lead or conversion with ``reason`` (the
    short text the partner sees; never the evidence). Safe to repeat."""
    reason = (reason or assessment.partner_reason or "").strip()
    if not reason:
        raise ValidationError("a rejection needs a reason the partner can read")
    return reject_rewards(_rewards_of([assessment]), reason=reason, actor=actor)


def release_subject_rewards(assessment: RiskAssessment, *, actor: User | None = None) -> int:
    """A reviewer cleared the subject: its held rewards lose the flag (one conditional
    update, so only the first call releases anything). Those whose hold period is over
    are approved at once, into the ledger exactly once (``approve_batch`` moves only
    pending rewards); the others approve on their own when it ends, as any reward.
    Returns how many rewards were released."""
    from rewards.services.approvals import approve_batch

    rewards = _rewards_of([assessment])
    with transaction.atomic():
        ids = list(
            rewards.filter(status=Reward.Status.PENDING, flagged=True).values_list("pk", flat=True)
        )
        if not ids:
            return 0
        released = Reward.objects.filter(
            pk__in=ids, status=Reward.Status.PENDING, flagged=True
        ).update(flagged=False)
        due = list(
            Reward.objects.filter(
                pk__in=ids, status=Reward.Status.PENDING, available_at__lte=timezone.now()
            ).values_list("pk", flat=True)
        )
        if due:
            tenant = Tenant.objects.get(pk=assessment.tenant_id)
            approve_batch(tenant=tenant, reward_ids=due, scored_only=False)
    return released
