"""Antifraud data: per-tenant settings, stored assessments with their fired signals,
block lists, allow-exceptions and partner fingerprints (what self-referral compares)."""

from antifraud.models.assessment import RiskAssessment, RiskSignal
from antifraud.models.fingerprint import PartnerFingerprint
from antifraud.models.lists import BlockEntry, RiskException
from antifraud.models.settings import RiskSettings

__all__ = [
    "BlockEntry",
    "PartnerFingerprint",
    "RiskAssessment",
    "RiskException",
    "RiskSettings",
    "RiskSignal",
]
