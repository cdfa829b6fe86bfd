from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.models.tenant import CURRENCY_CHOICES
from prm.tenancy import TenantOwned


class ExchangeRate(TenantOwned):
    """1 ``base`` = ``rate`` ``quote`` from ``valid_from`` on, kept per tenant (by hand
    or imported). Conversions use the latest rate on or before their date."""

    base = models.CharField(_("from"), max_length=3, choices=CURRENCY_CHOICES)
    quote = models.CharField(_("to"), max_length=3, choices=CURRENCY_CHOICES)
    rate = models.DecimalField(_("rate"), max_digits=18, decimal_places=8)
    valid_from = models.DateField(_("valid from"))
    source = models.CharField(max_length=32, default="manual")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["base", "quote", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "base", "quote", "valid_from"], name="fx_rate_once_a_day"
            ),
            models.CheckConstraint(condition=models.Q(rate__gt=0), name="fx_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"1 {self.base} = {self.rate} {self.quote} ({self.valid_from})"
