from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from prm.models.membership import invitation_expiry, new_invitation_token
from prm.tenancy import TenantOwned


def new_recruit_code() -> str:
    return secrets.token_urlsafe(6)


class PartnerProfile(TenantOwned):
    """A user's standing as a partner of one tenant: what makes them reach the cabinet."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        ACTIVE = "active", pgettext_lazy("partner status", "Active")
        BLOCKED = "blocked", _("Blocked")
        REJECTED = "rejected", _("Application rejected")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_profiles"
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    display_name = models.CharField(_("name"), max_length=120, blank=True)
    company = models.CharField(_("company"), max_length=120, blank=True)
    group = models.ForeignKey(
        "rewards.PartnerGroup",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="partners",
        verbose_name=_("group"),
    )
    # Multi-level: who recruited this partner (never a cycle; see rewards.multilevel).
    recruited_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recruits",
        verbose_name=_("recruited by"),
    )
    recruit_code = models.CharField(max_length=16, default=new_recruit_code)
    # The partner's aggregated risk (antifraud), kept here so lists can sort and filter.
    risk_score = models.PositiveSmallIntegerField(_("risk score"), null=True, blank=True)
    # The partner's own sites (host names, lower case, without "www."): programs that
    # require declared sites flag clicks referred from anywhere else.
    websites = models.JSONField(_("websites"), default=list, blank=True)
    # ISO 3166-1 alpha-2, upper case ("RU"); segments match on it.
    country = models.CharField(_("country"), max_length=2, blank=True, default="")
    social_links = models.JSONField(_("social links"), default=list, blank=True)
    # Answers to the tenant's questions (SignupQuestion), keyed by the question's id.
    details = models.JSONField(_("details"), default=dict, blank=True)
    # Why the partner was last blocked, unblocked, approved or rejected (shown to staff;
    # a rejection's reason is also e-mailed to the applicant).
    status_reason = models.CharField(_("reason"), max_length=300, blank=True, default="")
    tags = models.ManyToManyField(
        "partners.PartnerTag",
        through="partners.PartnerTagging",
        related_name="partners",
        blank=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by partners.privacy.partner_erase: the personal data is gone and the profile
    # stays blocked for good (its ledger, rewards and payouts are kept).
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True, editable=False)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]
        indexes = [
            # The partner list, newest first.
            models.Index(
                fields=["tenant", "-created_at", "-id"], name="partner_tenant_created_idx"
            ),
            models.Index(fields=["tenant", "country"], name="partner_country"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="partner_unique_user"),
            models.UniqueConstraint(fields=["tenant", "recruit_code"], name="partner_recruit_code"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.user.email

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None


# Tags, notes and segments


class PartnerTag(TenantOwned):
    """A label on partners, set by hand or by a segment."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=60)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "tenant", name="partner_tag_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class PartnerTagging(TenantOwned):
    """A tag on a partner; ``segment`` is set when a segment put it there (and may take
    it away again), empty when a person did."""

    partner = models.ForeignKey(PartnerProfile, on_delete=models.CASCADE, related_name="taggings")
    tag = models.ForeignKey(PartnerTag, on_delete=models.CASCADE, related_name="taggings")
    segment = models.ForeignKey(
        "partners.PartnerSegment", on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["partner", "tag"], name="partner_tagging_once"),
        ]
        indexes = [models.Index(fields=["tenant", "tag"], name="partner_tagging_tag")]

    def __str__(self) -> str:
        return f"{self.tag_id} on {self.partner_id}"


class PartnerNote(TenantOwned):
    """A staff member's note on a partner (never shown to the partner)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(PartnerProfile, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = models.TextField(_("note"), max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "partner", "-created_at"], name="partner_note")]

    def __str__(self) -> str:
        return self.body[:40]


class PartnerSegment(TenantOwned):
    """An automatic segment: a rule on one metric that tags (or moves to a group) the
    partners matching it; partners.segments evaluates it (a periodic job)."""

    class Metric(models.TextChoices):
        REVENUE = "revenue", _("Revenue (sum of conversions)")
        CLICKS = "clicks", _("Clicks")
        CONVERSIONS = "conversions", _("Conversions")
        CONVERSION_RATE = "conversion_rate", _("Conversion rate, %")
        JOINED_DAYS = "joined_days", _("Days since joining")
        COUNTRY = "country", _("Country")

    class Comparison(models.TextChoices):
        GTE = "gte", _("at least")
        LTE = "lte", _("at most")
        LT = "lt", _("below")
        EQ = "eq", _("equal to")
        TOP_PERCENT = "top_percent", _("in the top %")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=120)
    metric = models.CharField(_("metric"), max_length=20, choices=Metric.choices)
    comparison = models.CharField(
        _("comparison"), max_length=16, choices=Comparison.choices, default=Comparison.GTE
    )
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2, null=True, blank=True)
    country = models.CharField(_("country code"), max_length=2, blank=True, default="")
    period_days = models.PositiveIntegerField(_("over the last … days"), null=True, blank=True)
    min_clicks = models.PositiveIntegerField(_("with at least … clicks"), default=0)
    tag = models.ForeignKey(
        PartnerTag,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="segments",
        verbose_name=_("apply the tag"),
    )
    group = models.ForeignKey(
        "rewards.PartnerGroup",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("or move to the group"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_matched = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# Sign-up: the tenant's questions and terms, and partner invitations


class SignupQuestion(TenantOwned):
    """A question the tenant asks partners: on the application, in the profile (tax and
    contact details), or both. Answers live in ``PartnerProfile.details``."""

    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        CHOICE = "choice", _("Choice")
        URL = "url", _("URL")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    label = models.CharField(_("question"), max_length=200)
    kind = models.CharField(_("type"), max_length=8, choices=Kind.choices, default=Kind.TEXT)
    choices = models.TextField(_("choices, one per line"), blank=True, default="")
    required = models.BooleanField(_("required"), default=False)
    on_application = models.BooleanField(_("asked on the application"), default=True)
    in_profile = models.BooleanField(_("editable in the partner's profile"), default=False)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["position", "created_at"]

    def __str__(self) -> str:
        return self.label

    @property
    def choice_list(self) -> list[str]:
        return [c.strip() for c in self.choices.splitlines() if c.strip()]


class TermsVersion(TenantOwned):
    """One published version of the partner terms; the newest is the one to accept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    version = models.PositiveIntegerField()
    text = models.TextField(_("terms"), max_length=50000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "version"], name="terms_version_unique"),
        ]

    def __str__(self) -> str:
        return f"v{self.version}"


class TermsAcceptance(TenantOwned):
    """A partner accepted a version of the terms, when and from which address."""

    partner = models.ForeignKey(
        PartnerProfile, on_delete=models.CASCADE, related_name="terms_acceptances"
    )
    terms = models.ForeignKey(TermsVersion, on_delete=models.PROTECT, related_name="+")
    accepted_at = models.DateTimeField(auto_now_add=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-accepted_at"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "terms"], name="terms_accepted_once"),
        ]

    def __str__(self) -> str:
        return f"{self.partner_id} accepted {self.terms_id}"


class PartnerInvitation(TenantOwned):
    """An e-mailed link that signs a person up as a partner into a program (or, for a
    partner added by hand, lets them set their password). Like staff invitations
    (prm.models.Invitation) it expires, can be re-sent with a new token, and is used once.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        REVOKED = "revoked", _("Revoked")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(_("e-mail"))
    program = models.ForeignKey(
        "programs.Program",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("program"),
    )
    group = models.ForeignKey(
        "rewards.PartnerGroup", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Set when staff added the partner by hand: the link then sets their password.
    partner = models.ForeignKey(
        PartnerProfile, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    token = models.CharField(max_length=64, unique=True, default=new_invitation_token)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), default=invitation_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                "tenant",
                condition=models.Q(status="pending"),
                name="partner_invitation_one_pending",
            )
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()
