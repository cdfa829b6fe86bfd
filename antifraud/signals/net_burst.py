from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from antifraud.signals._burst import burst
from antifraud.signals.base import batch_signal

NET_BURST = batch_signal(
    code="net_burst",
    title=_("Many from one network"),
    explanation=_(
        "%(count)s leads or sales from the same network (/24 or /64) within %(minutes)s minutes."
    ),
    partner_reason=_("Unusual traffic pattern."),
    subjects=("lead", "conversion"),
    defaults={"enabled": True, "weight": 20, "threshold": 10, "window_minutes": 60},
    help=_("Threshold: how many (this one included) within the window before or after it."),
    many=burst("net"),
)
