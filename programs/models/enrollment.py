from __future__ import annotations

import secrets
import string
import uuid

from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from prm.tenancy import TenantOwned

CODE_ALPHABET = string.ascii_uppercase + string.digits
CODE_PATTERN = r"^[A-Za-z0-9_-]{3,64}$"


def random_code(length: int = 8) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


class Enrollment(TenantOwned):
    """A partner in a program, with the referral code of their links."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        ACTIVE = "active", _("Active")
        REJECTED = "rejected", _("Rejected")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey(
        "programs.Program", on_delete=models.CASCADE, related_name="enrollments"
    )
    partner = models.ForeignKey(
        "partners.PartnerProfile", on_delete=models.CASCADE, related_name="enrollments"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Stored upper-case; unique per tenant so a code names one enrollment everywhere.
    code = models.CharField(_("referral code"), max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]
        indexes = [
            # The program page's partner list, newest first.
            models.Index(
                fields=["tenant", "program", "-created_at", "-id"],
                name="enrollment_program_list_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["program", "partner"], name="enrollment_once"),
            models.UniqueConstraint(Upper("code"), "tenant", name="enrollment_code_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.partner} in {self.program} ({self.code})"


class PromoCode(TenantOwned):
    """A coupon code that credits its partner when a customer uses it at checkout."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey(
        "programs.Program", on_delete=models.CASCADE, related_name="promo_codes"
    )
    partner = models.ForeignKey(
        "partners.PartnerProfile", on_delete=models.CASCADE, related_name="promo_codes"
    )
    code = models.CharField(_("promo code"), max_length=64)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(Upper("code"), "tenant", name="promo_code_unique"),
        ]

    def __str__(self) -> str:
        return self.code
