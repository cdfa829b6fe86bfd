from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from prm.tenancy import TenantOwned


class Click(TenantOwned):
    """A visit by a referral link. Rejected clicks (paused program, blocked partner)
    are kept for the record but never credit anyone; a click on ``/r/`` with an unknown
    code is one too, with no enrollment or partner (reason ``unknown_code``)."""

    class Status(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")

    # Sequential ids stay internal: clicks are never addressed by URL.
    id = models.BigAutoField(primary_key=True)
    # The ingestion id (Redis stream entry or a UUID): makes a re-run flush harmless.
    ingest_id = models.CharField(max_length=64, unique=True)
    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    enrollment = models.ForeignKey(
        "programs.Enrollment", on_delete=models.CASCADE, related_name="clicks", null=True
    )
    partner = models.ForeignKey(
        "partners.PartnerProfile", on_delete=models.CASCADE, related_name="clicks", null=True
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACCEPTED)
    reject_reason = models.CharField(max_length=64, blank=True)
    code = models.CharField(max_length=64)
    visitor_id = models.CharField(max_length=64, db_index=True)
    sub_id = models.CharField(max_length=64, blank=True)
    # The channel, from the referral link's (or the landing page's) utm_* parameters.
    utm_source = models.CharField(max_length=100, blank=True)
    utm_medium = models.CharField(max_length=100, blank=True)
    utm_campaign = models.CharField(max_length=100, blank=True)
    landing_url = models.URLField(max_length=2048, blank=True)
    referrer = models.URLField(max_length=2048, blank=True)
    source = models.CharField(max_length=16, default="snippet")  # snippet | link
    browser = models.CharField(max_length=64, blank=True)
    os = models.CharField(max_length=64, blank=True)
    device = models.CharField(max_length=64, blank=True)
    ip = models.CharField(_("IP (truncated or hashed)"), max_length=64, blank=True)
    # The ad network's click id found in the landing URL (gclid, yclid, fbclid, msclkid).
    paid_click = models.CharField(max_length=16, blank=True)
    # The marketing material whose link was followed (``/r/CODE?m=<id>``): a plain
    # column, no foreign key, so the click path stays one insert (partners.materials).
    material_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta(TenantOwned.Meta):
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "program", "visitor_id", "created_at"]),
            models.Index(fields=["tenant", "partner", "-created_at"]),
            # The program page counts the clicks of the enrollments it shows.
            models.Index(fields=["tenant", "enrollment"], name="click_tenant_enrollment_idx"),
            models.Index(
                fields=["tenant", "material_id"],
                name="click_tenant_material_idx",
                condition=models.Q(material_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.visitor_id}"
