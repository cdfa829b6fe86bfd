"""Reading stored assessments back as words: the staff explanation of a fired signal
(filled from its params, in the reader's language) and the ``risk`` object of the API."""

from __future__ import annotations

from typing import Any

from antifraud.models import RiskAssessment, RiskSignal
from antifraud.signals import REGISTRY


def explain(signal: RiskSignal) -> str:
    """The staff explanation of a fired signal ('' for a signal no longer registered)."""
    spec = REGISTRY.get(signal.code)
    if spec is None:
        return signal.code
    text = str(spec.explanation)
    try:
        return text % signal.params
    except (KeyError, TypeError, ValueError):
        return str(spec.title)


def partner_reason(code: str) -> str:
    spec = REGISTRY.get(code)
    return str(spec.partner_reason) if spec else ""


def risk_summary(*, lead: Any = None, conversion: Any = None) -> dict[str, Any] | None:
    """``{"score", "level", "reasons": [{"code", "message"}]}`` once scored, else None.
    For the tenant's own server, so the messages are the staff explanations."""
    if lead is not None:
        found = RiskAssessment.objects.filter(subject="lead", lead=lead)
    else:
        found = RiskAssessment.objects.filter(subject="conversion", conversion=conversion)
    assessment = found.prefetch_related("signals").first()
    if assessment is None:
        return None
    return {
        "score": assessment.score,
        "level": assessment.level,
        "reasons": [{"code": s.code, "message": explain(s)} for s in assessment.signals.all()],
    }
