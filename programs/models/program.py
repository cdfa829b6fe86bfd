from __future__ import annotations

import secrets
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.models.tenant import CURRENCY_CHOICES
from prm.tenancy import TenantOwned


def default_level_percents() -> list[int]:
    return [10]


def new_publishable_key() -> str:
    return "pk_" + secrets.token_urlsafe(18)


class Program(TenantOwned):
    """A referral or affiliate program for one product, with its tracking rules."""

    class Kind(models.TextChoices):
        REFERRAL = "referral", _("Referral (customers bring customers)")
        AFFILIATE = "affiliate", _("Affiliate (professional partners)")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        ARCHIVED = "archived", _("Archived")

    class Attribution(models.TextChoices):
        FIRST_CLICK = "first_click", _("First click")
        LAST_CLICK = "last_click", _("Last click")

    class JoinPolicy(models.TextChoices):
        OPEN = "open", _("Open: anyone joins at once")
        APPROVAL = "approval", _("With approval")
        INVITATION = "invitation", _("By invitation only")

    class Assignment(models.TextChoices):
        MANUAL = "manual", _("By hand")
        ROUND_ROBIN = "round_robin", _("Round-robin among managers")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=120)
    product = models.CharField(_("product"), max_length=120, blank=True)
    kind = models.CharField(_("type"), max_length=16, choices=Kind.choices, default=Kind.REFERRAL)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    landing_urls = models.TextField(
        _("allowed landing URLs"),
        help_text=_("One per line. The first is where referral links lead by default."),
    )
    ref_param = models.CharField(_("referral parameter"), max_length=32, default="ref")
    cookie_days = models.PositiveIntegerField(_("cookie window, days"), default=60)
    attribution = models.CharField(
        _("attribution model"),
        max_length=16,
        choices=Attribution.choices,
        default=Attribution.LAST_CLICK,
    )
    join_policy = models.CharField(
        _("who may join"), max_length=16, choices=JoinPolicy.choices, default=JoinPolicy.OPEN
    )
    # Partners who join the program (or are invited into it) land in this group unless
    # they are in one already.
    default_group = models.ForeignKey(
        "rewards.PartnerGroup",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("default group"),
    )
    lead_assignment = models.CharField(
        _("lead assignment"), max_length=16, choices=Assignment.choices, default=Assignment.MANUAL
    )
    terms = models.TextField(_("terms"), blank=True)
    cookie_domain = models.CharField(
        _("cookie domain"),
        max_length=253,
        blank=True,
        help_text=_("Set e.g. .example.com to share the referral cookie across subdomains."),
    )
    publishable_key = models.CharField(max_length=40, unique=True, default=new_publishable_key)
    hold_days = models.PositiveIntegerField(
        _("hold period, days"),
        default=30,
        help_text=_("Rewards wait this long (refund window) before they can be paid."),
    )
    levels = models.PositiveSmallIntegerField(
        _("referral levels"),
        default=2,
        help_text=_("1 = only the partner who brought the customer; 2 = also their recruiter…"),
    )
    level_percents = models.JSONField(
        # xgettext:no-python-format
        _("upline shares, % of the level-1 reward"),
        default=default_level_percents,
        blank=True,
        help_text=_("One number per level from 2 on, e.g. [10, 5]."),
    )
    reward_budget = models.DecimalField(
        _("program budget"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Rewards stop once their total reaches this amount. Empty: no limit."),
    )
    # Traffic rules antifraud checks against each lead's and conversion's click.
    forbid_paid_search = models.BooleanField(
        _("paid search is not allowed"),
        default=False,
        help_text=_("Flag traffic from ads (gclid, yclid, fbclid, msclkid in the landing URL)."),
    )
    require_declared_sites = models.BooleanField(
        _("only from the partner's declared sites"),
        default=False,
        help_text=_("Flag clicks whose referrer is not one of the partner's websites."),
    )
    forbid_no_referrer = models.BooleanField(
        _("clicks must have a referrer"),
        default=False,
        help_text=_("Flag clicks that arrive with no referring page."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(cookie_days__gte=1, cookie_days__lte=3650),
                name="program_cookie_days_range",
            ),
            models.CheckConstraint(
                condition=models.Q(levels__gte=1, levels__lte=10), name="program_levels_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def landing_url_list(self) -> list[str]:
        return [u.strip() for u in self.landing_urls.splitlines() if u.strip()]

    @property
    def default_landing_url(self) -> str:
        urls = self.landing_url_list
        return urls[0] if urls else ""

    def allows_url(self, url: str) -> bool:
        """True when ``url`` is on one of the allowed landing URLs (same scheme and
        host, and under its path): the guard against open redirects."""
        target = urlsplit(url)
        if target.scheme not in {"http", "https"} or not target.netloc:
            return False
        for allowed in self.landing_url_list:
            base = urlsplit(allowed)
            if (target.scheme, target.netloc.lower()) != (base.scheme, base.netloc.lower()):
                continue
            base_path = base.path.rstrip("/")
            if target.path == base_path or target.path.startswith(base_path + "/") or not base_path:
                return True
        return False

    @property
    def is_tracking(self) -> bool:
        """Only active programs credit partners."""
        return self.status == self.Status.ACTIVE

    def snippet_url(self, tenant_base_url: str) -> str:
        return f"{tenant_base_url}/t/{self.publishable_key}.js"

    @property
    def snippet_secure(self) -> bool:
        return settings.PRM_SCHEME == "https"
