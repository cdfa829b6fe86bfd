from programs.models.click import Click
from programs.models.conversion import Conversion, Refund
from programs.models.enrollment import Enrollment, PromoCode
from programs.models.lead import Lead, LeadEvent
from programs.models.program import Program
from programs.models.rollup import (
    ActivityDay,
    AnalyticsChange,
    ChannelDay,
    ClickDay,
    PartnerActivity,
    PartnerPeriod,
    ProgramDay,
)

__all__ = [
    "ActivityDay",
    "AnalyticsChange",
    "ChannelDay",
    "ClickDay",
    "Click",
    "Conversion",
    "Enrollment",
    "Lead",
    "LeadEvent",
    "PartnerActivity",
    "PartnerPeriod",
    "Program",
    "ProgramDay",
    "PromoCode",
    "Refund",
]
