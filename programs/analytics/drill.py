"""The filters that take a report's figure down to the rows behind it.

Reports link to the leads, conversions and rewards lists with these parameters; the
lists apply them on top of their own filters (``DrillForm(request.GET).apply_*``).
Days are the tenant's local days, as in the rollups.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet

from prm.models import Tenant
from prm.models.tenant import CURRENCY_CHOICES
from programs.analytics.refresh import day_start
from programs.models.rollup import Channel

# A lead's source as the channel kind the rollups give it.
LEAD_SOURCES = {
    Channel.LINK: ["snippet"],
    Channel.REGISTRATION: ["cabinet"],
    Channel.STAFF: ["console"],
    Channel.API: ["api"],
    Channel.CRM: ["crm"],
}
TEXT_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "sub_id", "referrer_domain")
DRILL_PARAMS = (
    "since",
    "until",
    "kind",
    *TEXT_FIELDS,
    "flagged",
    "refunded",
    "currency",
    "brought_by",
)


class DrillForm(forms.Form):
    since = forms.DateField(required=False)
    until = forms.DateField(required=False)
    kind = forms.ChoiceField(choices=[("", "")] + Channel.choices, required=False)
    utm_source = forms.CharField(max_length=100, required=False)
    utm_medium = forms.CharField(max_length=100, required=False)
    utm_campaign = forms.CharField(max_length=100, required=False)
    sub_id = forms.CharField(max_length=64, required=False)
    referrer_domain = forms.CharField(max_length=100, required=False)
    flagged = forms.BooleanField(required=False)
    refunded = forms.BooleanField(required=False)
    currency = forms.ChoiceField(choices=[("", "")] + CURRENCY_CHOICES, required=False)
    # Leads a partner brought: credited to them, or duplicates they registered (as the
    # rollups count a partner's leads).
    brought_by = forms.UUIDField(required=False)

    def __init__(self, data: Any, *, tenant: Tenant) -> None:
        # Only the parameters given: an absent one filters nothing.
        super().__init__({k: v for k, v in data.items() if k in DRILL_PARAMS and v != ""})
        self.tenant = tenant
        self.is_valid()  # invalid values are dropped, the rest still apply

    def active(self) -> list[tuple[str, str]]:
        """(label, value) of each filter in force, shown above the list."""
        data = getattr(self, "cleaned_data", {})
        return [
            (name, str(value)) for name, value in data.items() if value not in ("", None, False)
        ]

    def _days(self, field: str) -> Q:
        data = self.cleaned_data
        q = Q()
        if data.get("since"):
            q &= Q(**{f"{field}__gte": day_start(self.tenant, data["since"])})
        if data.get("until"):
            q &= Q(**{f"{field}__lt": day_start(self.tenant, data["until"] + timedelta(days=1))})
        return q

    def _channel(self, prefix: str) -> Q:
        data = self.cleaned_data
        q = Q()
        for name in TEXT_FIELDS:
            if data.get(name):
                q &= Q(**{f"{prefix}{name}": data[name]})
        return q

    def apply_leads(self, leads: QuerySet[Any]) -> QuerySet[Any]:
        from antifraud.models import RiskAssessment
        from programs.models import Conversion

        data = self.cleaned_data
        leads = leads.filter(self._days("created_at"), self._channel(""))
        if data.get("brought_by"):
            partner = data["brought_by"]
            leads = leads.filter(Q(partner=partner) | Q(partner=None, registered_by=partner))
        if data.get("kind"):
            leads = leads.filter(source__in=LEAD_SOURCES.get(data["kind"], []))
        if data.get("flagged"):
            leads = leads.filter(Exists(_flagged(RiskAssessment, lead=OuterRef("pk"))))
        if data.get("refunded"):
            leads = leads.filter(
                Exists(Conversion.objects.filter(lead=OuterRef("pk"), refunded_amount__gt=0))
            )
        return leads

    def apply_conversions(self, conversions: QuerySet[Any]) -> QuerySet[Any]:
        from antifraud.models import RiskAssessment

        data = self.cleaned_data
        conversions = conversions.filter(self._days("occurred_at"), self._channel("lead__"))
        kind = data.get("kind")
        if kind == Channel.PROMO:
            conversions = conversions.exclude(promo_code="")
        elif kind == Channel.LINK:
            conversions = conversions.filter(promo_code="").filter(
                Q(lead__isnull=True) | Q(lead__source__in=LEAD_SOURCES[Channel.LINK])
            )
        elif kind:
            conversions = conversions.filter(
                promo_code="", lead__source__in=LEAD_SOURCES.get(kind, [])
            )
        if data.get("flagged"):
            conversions = conversions.filter(
                Exists(_flagged(RiskAssessment, conversion=OuterRef("pk")))
            )
        if data.get("refunded"):
            conversions = conversions.filter(refunded_amount__gt=0)
        if data.get("currency"):
            conversions = conversions.filter(currency=data["currency"])
        return conversions

    def apply_rewards(self, rewards: QuerySet[Any]) -> QuerySet[Any]:
        data = self.cleaned_data
        rewards = rewards.filter(self._days("created_at"))
        if data.get("currency"):
            rewards = rewards.filter(currency=data["currency"])
        return rewards


def _flagged(model: Any, **subject: Any) -> QuerySet[Any]:
    return model.objects.filter(level__in=["review", "reject"], **subject)
