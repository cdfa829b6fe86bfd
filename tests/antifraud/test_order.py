"""Whatever order accrual, scoring, refunds and the approval sweeper run in, a
suspicious sale's rewards end held (or rejected), and an approval releases once."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from antifraud.config import settings_for
from antifraud.models import RiskAssessment
from antifraud.services.holds import reject_subject_rewards, release_subject_rewards
from antifraud.services.scoring import score_conversions
from programs.services.conversions import refund_record
from rewards.models import LedgerEntry, Reward
from rewards.services.accrual import accrue_conversion
from rewards.services.approvals import approve_due, clawback_refund
from tests.antifraud.helpers import D, sale


def big(program, alice):  # type: ignore[no-untyped-def]
    """A sale above the default cap: review (50 points)."""
    return sale(program, alice, "2000000.00")


def make_due(conversion):  # type: ignore[no-untyped-def]
    Reward.objects.filter(conversion=conversion).update(
        available_at=timezone.now() - timedelta(seconds=1)
    )


def assessment(conversion):  # type: ignore[no-untyped-def]
    return RiskAssessment.objects.get(subject="conversion", conversion=conversion)


def test_score_then_accrue_creates_the_rewards_held(program, alice):
    conversion = big(program, alice)
    score_conversions([conversion.pk])
    accrue_conversion(conversion_id=str(conversion.pk))
    reward = Reward.objects.get(conversion=conversion)
    assert reward.flagged
    assert LedgerEntry.objects.filter(reward=reward, kind="hold").count() == 1
    make_due(conversion)
    assert approve_due() == 0


def test_accrue_then_score_holds_the_existing_rewards(program, alice):
    conversion = big(program, alice)
    accrue_conversion(conversion_id=str(conversion.pk))
    score_conversions([conversion.pk])
    score_conversions([conversion.pk])  # twice: never a second hold
    reward = Reward.objects.get(conversion=conversion)
    assert reward.flagged
    assert LedgerEntry.objects.filter(reward=reward, kind="hold").count() == 1


def test_an_unscored_sale_does_not_approve_and_the_sweeper_asks_for_its_score(program, alice):
    from prm.models import Job

    conversion = sale(program, alice, "100.00")
    accrue_conversion(conversion_id=str(conversion.pk))
    make_due(conversion)
    assert approve_due() == 0
    job = Job.objects.filter(func="antifraud.jobs.score_subjects").last()
    assert job.kwargs["conversions"] == [str(conversion.pk)]
    score_conversions([conversion.pk])
    assert approve_due() == 1


def test_a_refund_in_between_leaves_the_held_remainder(program, alice):
    conversion = big(program, alice)
    accrue_conversion(conversion_id=str(conversion.pk))
    refund, _ = refund_record(
        tenant=conversion.tenant, conversion=conversion, external_id="r1", amount=D("1000000.00")
    )
    score_conversions([conversion.pk])
    clawback_refund(refund_id=str(refund.pk))
    reward = Reward.objects.get(conversion=conversion)
    assert reward.flagged and reward.status == "pending"
    make_due(conversion)
    assert approve_due() == 0
    assert release_subject_rewards(assessment(conversion)) == 1
    reward.refresh_from_db()
    assert reward.status == "approved"
    approval = LedgerEntry.objects.get(reward=reward, kind="approval")
    assert approval.available == D("200000.00")  # half of 20 % of 2,000,000


def test_refund_before_accrual_then_score(program, alice):
    conversion = big(program, alice)
    refund_record(tenant=conversion.tenant, conversion=conversion, external_id="r1", amount=None)
    score_conversions([conversion.pk])
    accrue_conversion(conversion_id=str(conversion.pk))
    assert not Reward.objects.filter(conversion=conversion).exists()  # nothing left to pay


def test_an_approval_releases_into_the_ledger_exactly_once(program, alice):
    conversion = big(program, alice)
    accrue_conversion(conversion_id=str(conversion.pk))
    score_conversions([conversion.pk])
    make_due(conversion)
    found = assessment(conversion)
    assert release_subject_rewards(found) == 1
    assert release_subject_rewards(found) == 0
    assert approve_due() == 0
    score_conversions([conversion.pk])
    reward = Reward.objects.get(conversion=conversion)
    assert reward.status == "approved"
    assert LedgerEntry.objects.filter(reward=reward, kind="approval").count() == 1


def test_a_release_before_the_hold_period_ends_leaves_it_to_the_sweeper(program, alice):
    conversion = big(program, alice)
    accrue_conversion(conversion_id=str(conversion.pk))
    score_conversions([conversion.pk])
    RiskAssessment.objects.filter(conversion=conversion).update(decision="approved")
    assert release_subject_rewards(assessment(conversion)) == 1
    reward = Reward.objects.get(conversion=conversion)
    assert (reward.status, reward.flagged) == ("pending", False)
    make_due(conversion)
    assert approve_due() == 1
    # A rescore of the decided assessment (same level) does not hold it again.
    accrue_conversion(conversion_id=str(conversion.pk))
    score_conversions([conversion.pk])
    assert LedgerEntry.objects.filter(reward=reward, kind="approval").count() == 1


def test_reject_level_rejects_rewards_made_before_or_after(in_acme, program, alice):
    row = settings_for(in_acme)
    row.reject_above = 50
    row.save()
    before = big(program, alice)
    accrue_conversion(conversion_id=str(before.pk))
    score_conversions([before.pk])
    after = big(program, alice)
    score_conversions([after.pk])
    accrue_conversion(conversion_id=str(after.pk))
    for conversion in (before, after):
        reward = Reward.objects.get(conversion=conversion, level=1)
        assert reward.status == "rejected"
        assert reward.reason == "The sale is being verified."


def test_a_reviewers_rejection_applies_to_later_rewards_too(program, alice):
    conversion = big(program, alice)
    score_conversions([conversion.pk])
    found = assessment(conversion)
    RiskAssessment.objects.filter(pk=found.pk).update(
        decision="rejected", partner_reason="Self-referral is not allowed."
    )
    found.refresh_from_db()
    assert reject_subject_rewards(found, found.partner_reason) == 0  # none yet
    accrue_conversion(conversion_id=str(conversion.pk))
    reward = Reward.objects.get(conversion=conversion)
    assert (reward.status, reward.reason) == ("rejected", "Self-referral is not allowed.")
