from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.tenancy import TenantOwned


class PartnerFingerprint(TenantOwned):
    """What identifies a partner as a person, kept as keys comparable with leads and
    customers: normalised e-mail and phone, sign-in IP / network / device keys, and
    payout-detail fingerprints (card BIN+last 4, IBAN, wallet), all hashed where the
    raw value is personal or secret. Self-referral compares a lead's keys with these."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("E-mail")
        PHONE = "phone", _("Phone")
        IP = "ip", _("Sign-in IP")
        NET = "net", _("Sign-in network")
        DEVICE = "device", _("Sign-in device")
        CARD = "card", _("Payout card")
        IBAN = "iban", _("Payout bank account")
        WALLET = "wallet", _("Payout wallet")

    id = models.BigAutoField(primary_key=True)
    partner = models.ForeignKey(
        "partners.PartnerProfile", on_delete=models.CASCADE, related_name="fingerprints"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = models.CharField(max_length=128)
    last_seen = models.DateTimeField()

    class Meta(TenantOwned.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "partner", "kind", "value"], name="partner_fingerprint_once"
            )
        ]
        indexes = [models.Index(fields=["tenant", "kind", "value"])]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value[:12]}"
