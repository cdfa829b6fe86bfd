from __future__ import annotations

import uuid
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.tenancy import TenantOwned

slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$",
    _("Use 1-40 lowercase letters, digits and dashes; no dash at either end."),
)

CURRENCY_CHOICES = [
    ("USD", "USD"),
    ("EUR", "EUR"),
    ("RUB", "RUB"),
    ("GBP", "GBP"),
    ("KZT", "KZT"),
    ("BRL", "BRL"),
    ("AED", "AED"),
]
TIMEZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones())]


class Tenant(models.Model):
    """A business running partner programs: the unit of isolation."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=120)
    slug = models.CharField(_("address"), max_length=40, unique=True, validators=[slug_validator])
    default_currency = models.CharField(
        _("default currency"), max_length=3, choices=CURRENCY_CHOICES, default="USD"
    )
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    timezone = models.CharField(
        _("time zone"), max_length=64, choices=TIMEZONE_CHOICES, default="UTC"
    )
    require_staff_2fa = models.BooleanField(
        _("require two-factor authentication for all staff"), default=False
    )
    partner_signup_open = models.BooleanField(_("partners may sign up on their own"), default=True)
    click_ip_mode = models.CharField(
        _("visitor IP addresses"),
        max_length=16,
        choices=[
            ("truncate", _("Store truncated (last octet zeroed)")),
            ("hash", _("Store only a salted hash")),
        ],
        default="truncate",
    )
    manual_approval_above = models.DecimalField(
        _("approve by hand rewards above"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Rewards larger than this wait for a person after the hold. Empty: none."),
    )
    # Guard rails on manual ledger corrections and penalties (absolute amount, in the
    # correction's own currency).
    correction_confirm_above = models.DecimalField(
        _("ask to confirm corrections above"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        default=Decimal("500.00"),
        help_text=_(
            "A correction or penalty above this shows the balance before and after and "
            "asks to confirm. Empty: never."
        ),
    )
    correction_second_approval_above = models.DecimalField(
        _("corrections above this need a second person"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        default=Decimal("5000.00"),
        help_text=_(
            "A correction or penalty above this waits until another staff member with "
            "money rights approves it. Empty: never."
        ),
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def host(self) -> str:
        return f"{self.slug}.{settings.PRM_BASE_DOMAIN}"

    @property
    def base_url(self) -> str:
        from prm.public_urls import tenant_url

        return tenant_url(self)


class TenantDomain(TenantOwned):
    """A custom domain (``partners.example.com``) that serves a tenant once verified."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    domain = models.CharField(_("domain"), max_length=253, unique=True)
    is_verified = models.BooleanField(_("verified"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain
