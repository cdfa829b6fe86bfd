from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from antifraud.signals._burst import burst
from antifraud.signals.base import batch_signal

IP_BURST = batch_signal(
    code="ip_burst",
    title=_("Many from one IP address"),
    explanation=_("%(count)s leads or sales from the same IP address within %(minutes)s minutes."),
    partner_reason=_("Unusual traffic pattern."),
    subjects=("lead", "conversion"),
    defaults={"enabled": True, "weight": 40, "threshold": 5, "window_minutes": 60},
    help=_("Threshold: how many (this one included) within the window before or after it."),
    many=burst("ip"),
)
