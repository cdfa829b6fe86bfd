"""The antifraud settings form: thresholds, the amount cap, and per signal the fields
of its ``defaults`` (enabled, weight, threshold, window) generated from the registry.
It keeps only what differs from a signal's defaults (``overrides``), so a default
changed in code reaches every tenant that did not change it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.boundfield import BoundField
from django.utils.translation import gettext_lazy as _

from antifraud.config import EDITABLE, effective
from antifraud.models import RiskSettings
from antifraud.signals import REGISTRY, Signal
from prm.models.tenant import CURRENCY_CHOICES

REVIEW_ABOVE_REJECT = _("The review score cannot be above the reject score.")
SCORE_RANGE = _("A score from 0 to 100.")
WEIGHT_RANGE = _("A weight from 0 to 100.")
YEAR_MINUTES = 366 * 24 * 60

LABELS = {
    "enabled": _("On"),
    "weight": _("Weight"),
    "threshold": _("Threshold"),
    "window_minutes": _("Window, minutes"),
}


def field_name(code: str, key: str) -> str:
    return f"{code}__{key}"


def _field_for(key: str, default: Any) -> forms.Field | None:
    label = LABELS[key]
    if key == "enabled":
        return forms.BooleanField(label=label, required=False)
    if key == "weight":
        messages = {"min_value": WEIGHT_RANGE, "max_value": WEIGHT_RANGE}
        return forms.IntegerField(label=label, min_value=0, max_value=100, error_messages=messages)
    if key == "window_minutes":
        return forms.IntegerField(label=label, min_value=0, max_value=YEAR_MINUTES)
    if isinstance(default, bool):
        return forms.BooleanField(label=label, required=False)
    if isinstance(default, int):
        return forms.IntegerField(label=label, min_value=0)
    if isinstance(default, float):
        return forms.FloatField(label=label, min_value=0)
    return None  # not a number: not tunable here


@dataclass
class SignalRow:
    signal: Signal
    fields: list[BoundField]
    changed: bool


class RiskSettingsForm(forms.Form):
    review_above = forms.IntegerField(
        label=_("Hold for review at score"),
        min_value=0,
        max_value=100,
        error_messages={"min_value": SCORE_RANGE, "max_value": SCORE_RANGE},
        help_text=_("From this score up, rewards are held until a person decides."),
    )
    reject_above = forms.IntegerField(
        label=_("Reject at score"),
        min_value=0,
        max_value=100,
        error_messages={"min_value": SCORE_RANGE, "max_value": SCORE_RANGE},
        help_text=_("From this score up, rewards are rejected with a short reason."),
    )
    amount_cap = forms.DecimalField(
        label=_("Largest plausible sale"),
        required=False,
        max_digits=14,
        decimal_places=2,
        min_value=0,
        help_text=_(
            "A sale above this (in the currency beside it) is always reviewed. Empty: none."
        ),
    )
    amount_cap_currency = forms.ChoiceField(
        label=_("Currency of the cap"), choices=CURRENCY_CHOICES
    )

    def __init__(self, *args: Any, row: RiskSettings, **kwargs: Any) -> None:
        conf = effective(row)
        initial = {
            "review_above": row.review_above,
            "reject_above": row.reject_above,
            "amount_cap": row.amount_cap,
            "amount_cap_currency": row.amount_cap_currency,
        }
        self.keys: dict[str, list[str]] = {}
        for code, signal in REGISTRY.items():
            for key in EDITABLE:
                if key in signal.defaults:
                    initial[field_name(code, key)] = conf[code][key]
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.row = row
        for code, signal in REGISTRY.items():
            self.keys[code] = []
            for key in EDITABLE:
                if key not in signal.defaults:
                    continue
                field = _field_for(key, signal.defaults[key])
                if field is None:
                    continue
                field.widget.attrs.setdefault("class", "narrow")
                self.fields[field_name(code, key)] = field
                self.keys[code].append(key)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        review, reject = data.get("review_above"), data.get("reject_above")
        if review is not None and reject is not None and review > reject:
            self.add_error("review_above", REVIEW_ABOVE_REJECT)
        return data

    def signal_rows(self) -> list[SignalRow]:
        rows = []
        for code, keys in self.keys.items():
            signal = REGISTRY[code]
            rows.append(
                SignalRow(
                    signal=signal,
                    fields=[self[field_name(code, key)] for key in keys],
                    changed=bool(self.row.signals.get(code)),
                )
            )
        return rows

    def overrides(self) -> dict[str, dict[str, Any]]:
        """What differs from each signal's defaults, plus any extra keys an earlier
        override set that this form does not edit."""
        out: dict[str, dict[str, Any]] = {}
        for code, keys in self.keys.items():
            defaults = REGISTRY[code].defaults
            kept = {k: v for k, v in (self.row.signals.get(code) or {}).items() if k not in keys}
            for key in keys:
                value = self.cleaned_data[field_name(code, key)]
                if value != defaults[key]:
                    kept[key] = value
            if kept:
                out[code] = kept
        return out


class RescoreForm(forms.Form):
    since = forms.DateField(
        label=_("Rescore everything scored since"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean_since(self) -> Any:
        since = self.cleaned_data["since"]
        from django.utils import timezone

        if since > timezone.localdate():
            raise ValidationError(_("Choose a day that has passed."))
        return since
