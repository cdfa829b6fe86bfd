from programs.models.click import Click
from programs.models.conversion import Conversion, Refund
from programs.models.enrollment import Enrollment, PromoCode
from programs.models.lead import Lead, LeadEvent
from programs.models.program import Program

__all__ = [
    "Click",
    "Conversion",
    "Enrollment",
    "Lead",
    "LeadEvent",
    "Program",
    "PromoCode",
    "Refund",
]
