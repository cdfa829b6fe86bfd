"""Forms of the review queue: its filters, one decision, a bulk decision. They only
validate; the views call ``antifraud.services.decisions``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from antifraud.models import RiskAssessment
from antifraud.selectors import State, signal_title
from antifraud.services.decisions import NEEDS_REASON, Action
from antifraud.signals import REGISTRY
from partners.models import PartnerProfile

MIN_ABOVE_MAX = _("The lowest score cannot be above the highest.")
BULK_LIMIT = 200

ACTIONS = [
    (Action.APPROVE.value, _("Approve: release the held rewards")),
    (Action.REJECT.value, pgettext_lazy("risk decision", "Reject the rewards")),
    (Action.ALLOW.value, _("Allow: approve and do not flag this pair again")),
]


def signal_choices() -> list[tuple[str, str]]:
    return [("", _("Any"))] + [(code, signal_title(code)) for code in REGISTRY]


class QueueFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=_("Decision"),
        required=False,
        choices=[
            (State.WAITING, _("Waiting")),
            (State.DECIDED, _("Decided")),
            (State.ALL, _("All")),
        ],
    )
    level = forms.ChoiceField(
        label=_("Risk"),
        required=False,
        choices=[("", _("Review and reject"))]
        + [(c, label) for c, label in RiskAssessment.Level.choices if c != "ok"],
    )
    subject = forms.ChoiceField(
        label=_("Kind"),
        required=False,
        choices=[("", _("Any"))] + list(RiskAssessment.Subject.choices),
    )
    code = forms.ChoiceField(label=_("Signal"), required=False)
    score_min = forms.IntegerField(
        label=_("Score from"), required=False, min_value=0, max_value=100
    )
    score_max = forms.IntegerField(label=_("Score to"), required=False, min_value=0, max_value=100)
    partner = forms.ModelChoiceField(
        queryset=PartnerProfile.all_tenants_unscoped.none(),
        required=False,
        widget=forms.HiddenInput,
    )
    after = forms.CharField(required=False, widget=forms.HiddenInput, max_length=80)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].choices = signal_choices()
        self.fields["partner"].queryset = PartnerProfile.objects.select_related("user")  # type: ignore[attr-defined]
        for name in ("score_min", "score_max"):
            self.fields[name].widget.attrs.update({"inputmode": "numeric", "class": "narrow"})

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        low, high = data.get("score_min"), data.get("score_max")
        if low is not None and high is not None and low > high:
            self.add_error(None, MIN_ABOVE_MAX)
            data.pop("score_min"), data.pop("score_max")  # dropped, the rest apply
        return data

    def filters(self) -> dict[str, Any]:
        """The valid filters (an invalid one is dropped, and shown, the rest apply)."""
        data = dict(self.cleaned_data) if hasattr(self, "cleaned_data") else {}
        return {
            "state": data.get("state") or State.WAITING,
            "level": data.get("level") or "",
            "subject": data.get("subject") or "",
            "code": data.get("code") or "",
            "score_min": data.get("score_min"),
            "score_max": data.get("score_max"),
            "partner": data.get("partner"),
            "cursor": data.get("after") or "",
        }


class DecisionForm(forms.Form):
    action = forms.ChoiceField(choices=ACTIONS)
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=300,
        help_text=_("Required to reject: the partner reads it next to the rejected reward."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == Action.REJECT and not (data.get("reason") or "").strip():
            self.add_error("reason", NEEDS_REASON)
        return data


class BulkDecisionForm(DecisionForm):
    items = forms.ModelMultipleChoiceField(
        queryset=RiskAssessment.all_tenants_unscoped.none(),
        error_messages={"required": _("Select at least one item.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["items"].queryset = RiskAssessment.objects.select_related("tenant")  # type: ignore[attr-defined]

    def clean_items(self) -> Any:
        items = self.cleaned_data["items"]
        if len(items) > BULK_LIMIT:
            raise ValidationError(_("Decide at most %(n)d items at once.") % {"n": BULK_LIMIT})
        return items
