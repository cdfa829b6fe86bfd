"""Building blocks of the antifraud console tests: a program with a partner whose sale
earned a reward, an assessment of that sale with fired signals, the reward held."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from antifraud.models import RiskAssessment, RiskSignal
from antifraud.signals import REGISTRY, Hit, Signal
from partners.models import PartnerProfile
from programs.models import Conversion, Lead, Program
from rewards.models import Reward
from rewards.services.approvals import reward_hold
from tests.rewards.helpers import sale

# Two signals of our own, registered for a test and removed after it: the console is
# generated from whatever the registry holds.
TEST_SIGNALS = [
    Signal(
        code="t_ip_flood",
        title=_("Many leads from one IP"),
        explanation=_("%(count)s leads from one IP address within %(minutes)s minutes."),
        partner_reason=_("Unusual activity from one network."),
        subjects=("lead", "conversion"),
        defaults={"enabled": True, "weight": 45, "threshold": 5, "window_minutes": 60},
        evaluate=lambda ctx: None,
        evaluate_many=lambda batch, conf: {},
    ),
    Signal(
        code="t_self_ref",
        title=_("Self-referral"),
        explanation=_("The customer's %(what)s is the partner's own."),
        partner_reason=_("Referring yourself is not rewarded."),
        subjects=("lead", "conversion"),
        defaults={"enabled": True, "weight": 60, "threshold": 1, "window_minutes": 0},
        evaluate=lambda ctx: None,
        evaluate_many=lambda batch, conf: {},
    ),
]


def registered() -> Iterator[None]:
    added = [s for s in TEST_SIGNALS if s.code not in REGISTRY]
    for signal in added:
        REGISTRY[signal.code] = signal
    try:
        yield
    finally:
        for signal in added:
            REGISTRY.pop(signal.code, None)


def flag(
    *,
    subject: Conversion | Lead | PartnerProfile,
    score: int = 55,
    level: str = RiskAssessment.Level.REVIEW,
    signals: dict[str, dict[str, Any]] | None = None,
    at: Any = None,
) -> RiskAssessment:
    """Store an assessment of ``subject`` (as the scorer would) and hold its rewards."""
    if isinstance(subject, Conversion):
        kind, lookup, partner = "conversion", {"conversion": subject}, subject.partner
    elif isinstance(subject, Lead):
        kind, lookup, partner = "lead", {"lead": subject}, subject.partner
    else:
        kind, lookup, partner = "partner", {"partner": subject}, subject
    assessment, _ = RiskAssessment.objects.update_or_create(
        tenant=subject.tenant,
        subject=kind,
        **lookup,
        defaults={
            "partner": partner,
            "score": score,
            "level": level,
            "decision": "",
            "scored_at": at or timezone.now(),
        },
    )
    RiskSignal.objects.filter(assessment=assessment).delete()
    for code, hit in (signals or {"t_ip_flood": {"points": score}}).items():
        h = Hit(**hit)
        RiskSignal.objects.create(
            tenant=subject.tenant,
            assessment=assessment,
            code=code,
            points=h.points,
            params=h.params,
            evidence=h.evidence,
            match_key=h.match_key,
        )
    if kind == "conversion":
        for reward in Reward.objects.filter(conversion=subject):
            reward_hold(reward=reward, reason="antifraud")
    return assessment


def flagged_sale(
    program: Program, partner: PartnerProfile, amount: str = "100.00", **flag_kwargs: Any
) -> tuple[Conversion, RiskAssessment, Reward]:
    conversion = sale(program, partner, amount)
    assessment = flag(subject=conversion, **flag_kwargs)
    reward = Reward.objects.get(conversion=conversion, partner=partner)
    return conversion, assessment, reward


def due_now(reward: Reward) -> None:
    """The reward's hold period is over (the sweeper may approve it if not flagged)."""
    Reward.objects.filter(pk=reward.pk).update(available_at=timezone.now() - timedelta(days=1))
