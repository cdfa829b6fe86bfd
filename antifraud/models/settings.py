from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.models.tenant import CURRENCY_CHOICES
from prm.tenancy import TenantOwned


class RiskSettings(TenantOwned):
    """A tenant's thresholds and per-signal overrides (one row per tenant, made on demand).

    ``signals`` maps a signal code to the fields the tenant changed, e.g.
    ``{"ip_burst": {"enabled": true, "weight": 40, "threshold": 5, "window_minutes": 60}}``;
    anything absent takes the signal's default from its module in ``antifraud.signals``.
    """

    review_above = models.PositiveSmallIntegerField(
        _("hold for review at score"),
        default=40,
        help_text=_("From this score up, rewards are held until a person decides."),
    )
    reject_above = models.PositiveSmallIntegerField(
        _("reject at score"),
        default=80,
        help_text=_("From this score up, rewards are rejected with a short reason."),
    )
    amount_cap = models.DecimalField(
        _("largest plausible sale"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("A sale above this (in the currency below) is always reviewed. Empty: none."),
    )
    amount_cap_currency = models.CharField(
        _("currency of the cap"), max_length=3, choices=CURRENCY_CHOICES, default="USD"
    )
    signals = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwned.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant"], name="risk_settings_one")]
        constraints += [
            models.CheckConstraint(
                condition=models.Q(review_above__lte=models.F("reject_above")),
                name="risk_settings_review_below_reject",
            )
        ]

    def __str__(self) -> str:
        return f"{self.review_above}/{self.reject_above}"
