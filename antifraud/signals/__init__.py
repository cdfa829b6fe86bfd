"""Every antifraud signal, one module each, registered in ``REGISTRY`` in a stable order.

A signal module defines one ``Signal`` (see ``base``) and registers it; importing this
package imports them all, so ``REGISTRY`` is complete wherever it is read.
"""

from antifraud.signals.base import REGISTRY, Batch, Context, Hit, Signal, register

# Registration order is the order of the settings page and of equal-points reasons.
from antifraud.signals import (  # noqa: E402, F401  isort: skip
    blocklist,
    self_referral,
    ip_burst,
    net_burst,
    device_burst,
    repeat_customer,
    disposable_email,
    click_flood,
    fast_click,
    no_referrer,
    paid_search,
    undeclared_site,
    amount_cap,
    amount_outlier,
    velocity,
    duplicate_partner,
    partner_history,
)

__all__ = ["REGISTRY", "Batch", "Context", "Hit", "Signal", "register"]
