"""A throw-away mailbox: the e-mail's domain (or a parent domain) is on the maintained
list of the ``disposable-email-domains`` package, minus its own allow-list."""

from __future__ import annotations

from typing import Any

from disposable_email_domains import allowlist, blocklist
from django.utils.translation import gettext_lazy as _

from antifraud.signals._query import email_of
from antifraud.signals.base import Batch, Hit, batch_signal


def disposable_domain(email: str) -> str:
    """The listed domain the address belongs to ('' when none)."""
    domain = email.rpartition("@")[2].strip().lower()
    parts = domain.split(".")
    for i in range(len(parts) - 1):
        candidate = ".".join(parts[i:])
        if candidate in allowlist:
            return ""
        if candidate in blocklist:
            return candidate
    return ""


def _many(batch: Batch, conf: dict[str, Any]) -> dict[Any, Hit]:
    out = {}
    for obj in batch.objs:
        domain = disposable_domain(email_of(obj))
        if domain:
            out[obj.pk] = Hit(
                points=int(conf["weight"]),
                params={"domain": domain},
                evidence={"value": domain},
                match_key=f"domain:{domain}",
            )
    return out


DISPOSABLE_EMAIL = batch_signal(
    code="disposable_email",
    title=_("Disposable e-mail"),
    explanation=_("The e-mail address is at %(domain)s, a disposable mailbox service."),
    partner_reason=_("The customer's contact details could not be verified."),
    subjects=("lead", "conversion", "partner"),
    defaults={"enabled": True, "weight": 30, "threshold": 1, "window_minutes": 0},
    many=_many,
)
