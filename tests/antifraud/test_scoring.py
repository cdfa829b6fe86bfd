"""The score, its levels, idempotence, allow-exceptions and decisions."""

from __future__ import annotations

from antifraud.config import settings_for
from antifraud.models import RiskAssessment, RiskException, RiskSignal
from antifraud.services.scoring import score_leads
from rewards.models import Reward
from tests.antifraud.helpers import assess, lead


def test_the_score_is_the_sum_of_the_weights_capped_at_100(program, alice):
    leads = [lead(program, alice, ip="203.0.113.7", email=f"p{i}@mailinator.com") for i in range(5)]
    found = assess(leads[-1])
    points = dict(found.signals.values_list("code", "points"))
    # ip 40 + device 40 + same device, new e-mail 40 + disposable 30 = 150 → 100
    assert points == {
        "ip_burst": 40,
        "device_burst": 40,
        "repeat_customer": 40,
        "disposable_email": 30,
    }
    assert (found.score, found.level) == (100, "reject")


def test_levels_follow_the_tenants_thresholds(in_acme, program, alice):
    row = settings_for(in_acme)
    row.review_above, row.reject_above = 20, 30
    row.save()
    assert assess(lead(program, alice, email="a@mailinator.com")).level == "reject"
    row.review_above, row.reject_above = 31, 90
    row.save()
    assert assess(lead(program, alice, email="b@mailinator.com")).level == "ok"


def test_a_signal_turned_off_in_the_settings_does_not_fire(in_acme, program, alice):
    row = settings_for(in_acme)
    row.signals = {"disposable_email": {"enabled": False}}
    row.save()
    assert assess(lead(program, alice, email="a@mailinator.com")).score == 0


def test_rescoring_is_idempotent_and_writes_nothing_when_nothing_changed(program, alice):
    subject = lead(program, alice, email="a@mailinator.com")
    first = assess(subject)
    signal_ids = list(RiskSignal.objects.values_list("pk", flat=True))
    out = score_leads([subject.pk])
    assert (out.scored, out.written) == (1, 0)
    again = RiskAssessment.objects.get(pk=first.pk)
    assert again.scored_at == first.scored_at
    assert list(RiskSignal.objects.values_list("pk", flat=True)) == signal_ids
    assert RiskAssessment.objects.count() == 1


def test_an_allow_exception_suppresses_the_signal_for_that_pair(in_acme, program, alice):
    first = lead(program, alice, email="a@mailinator.com")
    hit = assess(first).signals.get(code="disposable_email")
    RiskException.objects.create(
        tenant=in_acme, code="disposable_email", partner=alice, match_key=hit.match_key
    )
    assert assess(first).score == 0
    # Another partner's lead from the same domain still fires.
    from tests.rewards.helpers import make_partner

    bob = make_partner(in_acme, program, "BOB")
    assert assess(lead(program, bob, email="b@mailinator.com")).score == 30


def test_review_holds_the_rewards_and_dropping_to_ok_releases_them(in_acme, program, alice):
    from rewards.services.accrual import accrue_lead

    row = settings_for(in_acme)
    row.review_above = 30
    row.save()
    subject = lead(program, alice, email="a@mailinator.com")
    accrue_lead(lead_id=str(subject.pk))
    assert assess(subject).level == "review"
    assert Reward.objects.get(lead=subject).flagged
    row.signals = {"disposable_email": {"enabled": False}}
    row.save()
    assert assess(subject).level == "ok"
    assert not Reward.objects.get(lead=subject).flagged


def test_a_decision_stands_until_the_score_rises_a_level(in_acme, program, alice):
    from antifraud.services.holds import release_subject_rewards
    from rewards.services.accrual import accrue_lead

    row = settings_for(in_acme)
    row.review_above, row.reject_above = 30, 90
    row.save()
    subject = lead(program, alice, email="a@mailinator.com", ip="203.0.113.1")
    accrue_lead(lead_id=str(subject.pk))
    found = assess(subject)
    assert found.level == "review"
    RiskAssessment.objects.filter(pk=found.pk).update(decision="approved")
    release_subject_rewards(found)
    assert not Reward.objects.get(lead=subject).flagged
    # More evidence, still "review": the reviewer's word stands.
    for _ in range(4):
        lead(program, alice, ip="203.0.113.1", ua="other")
    found = assess(subject)
    assert (found.level, found.decision) == ("review", "approved")
    assert not Reward.objects.get(lead=subject).flagged
    # Up to "reject": back to a person, and the rewards are rejected.
    row.reject_above = 60
    row.save()
    found = assess(subject)
    assert (found.level, found.decision) == ("reject", "")
    reward = Reward.objects.get(lead=subject)
    assert reward.status == "rejected"
    assert reward.reason == "Unusual traffic pattern."  # the partner's reason, no evidence
