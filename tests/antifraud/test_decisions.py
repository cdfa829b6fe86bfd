"""The decisions service against the ledger: a held reward enters it exactly once,
however often (and however concurrently) the item is approved."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from antifraud.models import RiskAssessment, RiskException
from antifraud.services import decisions
from antifraud.services.decisions import ALREADY_DECIDED, NEEDS_REASON, NOTHING_HELD, Action
from prm.models import AuditEntry
from rewards.models import LedgerEntry, Reward
from rewards.services.approvals import approve_due
from tests.antifraud.world import due_now, flag, flagged_sale
from tests.rewards.helpers import available, pending, sale


def approvals_of(reward: Reward) -> int:
    return LedgerEntry.objects.filter(reward=reward, kind=LedgerEntry.Kind.APPROVAL).count()


def test_a_held_reward_is_not_approved_by_the_sweeper(program, alice):
    _, _, reward = flagged_sale(program, alice)
    due_now(reward)
    approve_due()
    reward.refresh_from_db()
    assert reward.status == Reward.Status.PENDING and reward.flagged
    assert approvals_of(reward) == 0


def test_approving_twice_releases_the_reward_into_the_ledger_exactly_once(program, alice, manager):
    _, assessment, reward = flagged_sale(program, alice)
    due_now(reward)
    assert decisions.assessment_approve(assessment=assessment, actor=manager) == 1
    approve_due()
    again = RiskAssessment.objects.get(pk=assessment.pk)
    assert decisions.assessment_approve(assessment=again, actor=manager) == 0
    # A stale copy (a second tab) changes nothing either.
    assert decisions.assessment_approve(assessment=assessment, actor=manager) == 0
    approve_due()
    reward.refresh_from_db()
    assert reward.status == Reward.Status.APPROVED and not reward.flagged
    assert approvals_of(reward) == 1
    assert available(alice) == reward.amount
    assert pending(alice) == 0
    assert AuditEntry.objects.filter(action="risk.approve").count() == 1
    again.refresh_from_db()
    assert again.decision == RiskAssessment.Decision.APPROVED
    assert again.decided_by == manager and again.decided_at is not None


def test_a_released_reward_still_waits_for_its_hold_period(program, alice, finance):
    _, assessment, reward = flagged_sale(program, alice)
    decisions.assessment_approve(assessment=assessment, actor=finance)
    approve_due()
    reward.refresh_from_db()
    assert reward.status == Reward.Status.PENDING and not reward.flagged
    assert approvals_of(reward) == 0


def test_reject_rejects_the_rewards_with_the_reason_the_partner_reads(program, alice, manager):
    _, assessment, reward = flagged_sale(program, alice)
    count = decisions.assessment_reject(
        assessment=assessment, actor=manager, reason="Referring yourself is not rewarded."
    )
    assert count == 1
    reward.refresh_from_db()
    assert reward.status == Reward.Status.REJECTED
    assert reward.reason == "Referring yourself is not rewarded."
    assert pending(alice) == 0 and available(alice) == 0
    assessment.refresh_from_db()
    assert assessment.decision == RiskAssessment.Decision.REJECTED
    assert assessment.partner_reason == "Referring yourself is not rewarded."
    entry = AuditEntry.objects.get(action="risk.reject")
    assert entry.object_id == str(assessment.pk) and entry.actor == manager


def test_reject_needs_a_reason(program, alice, manager):
    _, assessment, reward = flagged_sale(program, alice)
    with pytest.raises(ValidationError) as exc:
        decisions.assessment_reject(assessment=assessment, actor=manager, reason="  ")
    assert exc.value.messages == [str(NEEDS_REASON)]
    reward.refresh_from_db()
    assert reward.status == Reward.Status.PENDING


def test_an_approved_item_cannot_then_be_rejected(program, alice, manager):
    _, assessment, reward = flagged_sale(program, alice)
    decisions.assessment_approve(assessment=assessment, actor=manager)
    stale = RiskAssessment.objects.get(pk=assessment.pk)
    with pytest.raises(ValidationError) as exc:
        decisions.assessment_reject(assessment=stale, actor=manager, reason="No")
    assert exc.value.messages == [str(ALREADY_DECIDED)]
    reward.refresh_from_db()
    assert reward.status == Reward.Status.PENDING and not reward.flagged


def test_an_item_at_ok_level_holds_nothing_to_decide(program, alice, manager):
    conversion = sale(program, alice)
    assessment = flag(subject=conversion, score=5, level=RiskAssessment.Level.OK)
    with pytest.raises(ValidationError) as exc:
        decisions.assessment_approve(assessment=assessment, actor=manager)
    assert exc.value.messages == [str(NOTHING_HELD)]


def test_allow_records_an_exception_per_fired_signal_then_releases(program, alice, manager):
    _, assessment, reward = flagged_sale(
        program,
        alice,
        signals={
            "t_ip_flood": {"points": 30, "match_key": "ip:203.0.113.0"},
            "t_self_ref": {"points": 30, "match_key": "email:alice@example.test"},
        },
    )
    assert decisions.assessment_allow(assessment=assessment, actor=manager, note="known") == 1
    pairs = set(RiskException.objects.values_list("code", "partner_id", "match_key"))
    assert pairs == {
        ("t_ip_flood", alice.pk, "ip:203.0.113.0"),
        ("t_self_ref", alice.pk, "email:alice@example.test"),
    }
    reward.refresh_from_db()
    assert not reward.flagged
    # A second item with the same pair adds no second exception.
    _, other, _ = flagged_sale(
        program, alice, signals={"t_ip_flood": {"points": 50, "match_key": "ip:203.0.113.0"}}
    )
    decisions.assessment_allow(assessment=other, actor=manager)
    assert RiskException.objects.count() == 2
    assert AuditEntry.objects.filter(action="risk.allow").count() == 2


def test_bulk_decides_each_item_and_reports_the_ones_it_could_not(program, alice, manager):
    items = [flagged_sale(program, alice) for _ in range(3)]
    # The page was loaded before another reviewer rejected the first item.
    stale = [RiskAssessment.objects.get(pk=a.pk) for _, a, _ in items]
    first = items[0][1]
    decisions.assessment_reject(assessment=first, actor=manager, reason="Earlier decision")
    result = decisions.assessments_decide(
        assessments=stale, action=Action.APPROVE, actor=manager, reason=""
    )
    assert result.done == 2
    assert [pk for pk, _ in result.refused] == [first.pk]
    for _, _item, reward in items[1:]:
        reward.refresh_from_db()
        assert not reward.flagged
    items[0][2].refresh_from_db()
    assert items[0][2].status == Reward.Status.REJECTED


def test_bulk_reject_needs_a_reason_before_touching_anything(program, alice, manager):
    _, assessment, reward = flagged_sale(program, alice)
    with pytest.raises(ValidationError):
        decisions.assessments_decide(assessments=[assessment], action=Action.REJECT, actor=manager)
    assessment.refresh_from_db()
    assert assessment.decision == ""
