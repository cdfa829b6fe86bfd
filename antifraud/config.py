"""A tenant's effective antifraud settings: its overrides merged over each signal's
defaults. Read once per scoring run; the console writes the overrides."""

from __future__ import annotations

from typing import Any

from antifraud.models import RiskSettings
from antifraud.signals import REGISTRY
from prm.models import Tenant

EDITABLE = ("enabled", "weight", "threshold", "window_minutes")


def settings_for(tenant: Tenant) -> RiskSettings:
    """The tenant's settings row (made with the defaults on first use)."""
    row = RiskSettings.objects.filter(tenant=tenant).first()
    if row is None:
        row, _ = RiskSettings.objects.get_or_create(tenant=tenant)
    return row


def effective(row: RiskSettings) -> dict[str, dict[str, Any]]:
    """Each registered signal's defaults with the tenant's overrides on top."""
    out: dict[str, dict[str, Any]] = {}
    for code, signal in REGISTRY.items():
        conf = dict(signal.defaults)
        override = row.signals.get(code) or {}
        conf.update({k: v for k, v in override.items() if k in signal.defaults})
        out[code] = conf
    return out
