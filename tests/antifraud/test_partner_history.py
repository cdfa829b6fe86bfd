from __future__ import annotations

from antifraud.models import RiskAssessment
from partners.models import PartnerProfile
from tests.antifraud.helpers import assess, codes, lead


def test_a_partner_whose_leads_are_flagged_gets_a_risk_score(program, alice):
    for i in range(2):
        assess(lead(program, alice, email=f"x{i}@mailinator.com"))
    assess(lead(program, alice, email="ok@example.com"))
    for x in RiskAssessment.objects.filter(subject="lead"):
        RiskAssessment.objects.filter(pk=x.pk).update(level="review")
    RiskAssessment.objects.filter(subject="lead", lead__email="ok@example.com").update(level="ok")
    assert "partner_history" in codes(alice)
    assert PartnerProfile.objects.get(pk=alice.pk).risk_score == 67  # 2 of 3 flagged


def test_one_flagged_lead_does_not_mark_a_partner(program, alice):
    flagged = assess(lead(program, alice))
    RiskAssessment.objects.filter(pk=flagged.pk).update(level="review")
    assess(lead(program, alice))
    assert "partner_history" not in codes(alice)
    assert PartnerProfile.objects.get(pk=alice.pk).risk_score == 0
