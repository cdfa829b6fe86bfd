"""The period picker: today, 7 / 30 / 90 days, month to date, or custom; and the period
just before it, of the same length, for the deltas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

MAX_DAYS = 731
CHOICES = [
    ("today", _("Today")),
    ("7d", _("Last 7 days")),
    ("30d", _("Last 30 days")),
    ("90d", _("Last 90 days")),
    ("mtd", _("Month to date")),
    ("custom", _("Custom")),
]
DEFAULT = "30d"
BAD_RANGE = _("The end must not be before the start, and a period is at most two years.")


@dataclass(frozen=True)
class Period:
    key: str
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        end = self.start - timedelta(days=1)
        return Period(self.key, end - timedelta(days=self.days - 1), end)

    def query(self) -> dict[str, str]:
        """The GET parameters that name this period (for links to lists and reports)."""
        if self.key == "custom":
            return {
                "period": "custom",
                "start": self.start.isoformat(),
                "end": self.end.isoformat(),
            }
        return {"period": self.key}

    def bounds(self) -> dict[str, str]:
        """The lists' filters for the same days (``since`` / ``until``)."""
        return {"since": self.start.isoformat(), "until": self.end.isoformat()}


def period_of(key: str, today: date) -> Period:
    if key == "today":
        return Period(key, today, today)
    if key == "mtd":
        return Period(key, today.replace(day=1), today)
    days = {"7d": 7, "30d": 30, "90d": 90}.get(key, 30)
    return Period(
        key if key in ("7d", "30d", "90d") else DEFAULT, today - timedelta(days - 1), today
    )


class PeriodForm(forms.Form):
    period = forms.ChoiceField(label=_("Period"), choices=CHOICES, required=False)
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput({"type": "date"})
    )
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput({"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("period") == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end or end < start or (end - start).days >= MAX_DAYS:
                raise forms.ValidationError(BAD_RANGE, code="range")
        return data

    def chosen(self, today: date) -> Period:
        """The chosen period; the default (30 days) when the choice is invalid."""
        if not self.is_valid():
            return period_of(DEFAULT, today)
        key = self.cleaned_data.get("period") or DEFAULT
        if key == "custom":
            return Period(key, self.cleaned_data["start"], self.cleaned_data["end"])
        return period_of(key, today)


def with_default(params: Any) -> Any:
    """The GET parameters with the default period filled in, so the picker shows it."""
    data = params.copy()
    if not data.get("period"):
        data["period"] = DEFAULT
    return data


def period_from(params: Any, today: date) -> tuple[Period, PeriodForm]:
    form = PeriodForm(with_default(params))
    return form.chosen(today), form
