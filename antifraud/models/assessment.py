from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from prm.tenancy import TenantOwned


class RiskAssessment(TenantOwned):
    """The stored score of one lead, conversion or partner, with the signals that fired.

    Exactly one row per subject (re-scoring updates it in place), so a job run twice
    never holds twice. ``partner`` is the credited partner for a lead or conversion and
    the subject itself for a partner assessment.
    """

    class Subject(models.TextChoices):
        LEAD = "lead", _("Lead")
        CONVERSION = "conversion", _("Conversion")
        PARTNER = "partner", _("Partner")

    class Level(models.TextChoices):
        OK = "ok", _("OK")
        REVIEW = "review", _("Review")
        REJECT = "reject", pgettext_lazy("risk level", "Reject")

    class Decision(models.TextChoices):
        NONE = "", _("Waiting")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", pgettext_lazy("risk decision", "Rejected")

    id = models.BigAutoField(primary_key=True)
    subject = models.CharField(max_length=16, choices=Subject.choices)
    lead = models.ForeignKey(
        "programs.Lead", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    conversion = models.ForeignKey(
        "programs.Conversion", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    partner = models.ForeignKey(
        "partners.PartnerProfile",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="risk_assessments",
    )
    score = models.PositiveSmallIntegerField(_("risk score"), default=0)
    level = models.CharField(_("risk"), max_length=8, choices=Level.choices, default=Level.OK)
    # What the partner is told (never the evidence): set when rewards are rejected.
    partner_reason = models.CharField(max_length=300, blank=True)
    # A digest of the inputs and settings the score came from: rescoring that changes
    # nothing leaves the row (and its holds) untouched.
    digest = models.CharField(max_length=64, blank=True)
    decision = models.CharField(
        _("decision"), max_length=8, choices=Decision.choices, default=Decision.NONE, blank=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(_("note"), max_length=300, blank=True)
    scored_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-scored_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "lead"], condition=models.Q(subject="lead"), name="risk_one_lead"
            ),
            models.UniqueConstraint(
                fields=["tenant", "conversion"],
                condition=models.Q(subject="conversion"),
                name="risk_one_conversion",
            ),
            models.UniqueConstraint(
                fields=["tenant", "partner"],
                condition=models.Q(subject="partner"),
                name="risk_one_partner",
            ),
        ]
        indexes = [
            # The review queue: undecided items at review level or above, newest first.
            models.Index(fields=["tenant", "level", "decision", "-scored_at"]),
            models.Index(fields=["tenant", "partner", "-scored_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.score}"


class RiskSignal(TenantOwned):
    """One signal that fired in an assessment: its points, why, and the matched records.

    ``evidence`` holds ids, not copies: ``{"leads": [...], "conversions": [...],
    "clicks": [...], "partner_fields": ["email", ...], "value": "203.0.113.0/24"}``.
    ``params`` fills the signal's explanation (counts, windows), so the text is rendered
    in the reader's language.
    """

    id = models.BigAutoField(primary_key=True)
    assessment = models.ForeignKey(RiskAssessment, on_delete=models.CASCADE, related_name="signals")
    code = models.CharField(max_length=32)
    points = models.PositiveSmallIntegerField()
    params = models.JSONField(default=dict, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    # The matched key an "allow" exception is recorded against (an IP key, an e-mail key…).
    match_key = models.CharField(max_length=128, blank=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-points", "code"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "code"], name="risk_signal_once"),
        ]
        indexes = [models.Index(fields=["tenant", "code"])]

    def __str__(self) -> str:
        return f"{self.code} +{self.points}"
