from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ClientTrace(models.Model):
    """Where a lead or conversion came from, kept for antifraud under the tenant's IP
    privacy setting: ``ip`` and ``net`` (the /24 or /64) are truncated or hashed like a
    click's, ``device`` is a salted hash of the full IP and user agent, never reversible.
    """

    ip = models.CharField(_("IP (truncated or hashed)"), max_length=64, blank=True)
    net = models.CharField(max_length=64, blank=True)
    device = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    # The e-mail as a person is identified: case, gmail dots, +tags, googlemail folded.
    email_key = models.CharField(max_length=254, blank=True)

    class Meta:
        abstract = True


def trace_indexes(prefix: str) -> list[models.Index]:
    """The windowed look-ups the signals make: same IP / network / device / person."""
    return [
        models.Index(
            fields=["tenant", field, "created_at"],
            condition=~Q(**{field: ""}),
            name=f"{prefix}_{field}_idx",
        )
        for field in ("ip", "net", "device", "email_key")
    ]
