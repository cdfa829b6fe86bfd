"""Forms of the console's payout pages: exchange rates (by hand and CSV), payout methods,
the payout queue and the manual-approval threshold. They only validate; the views write.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

from prm.models import Tenant
from prm.models.tenant import CURRENCY_CHOICES
from rewards.models import ExchangeRate, PayoutMethod

CURRENCIES = {code for code, _label in CURRENCY_CHOICES}
RATE_COLUMNS = ("base", "quote", "rate", "valid_from")
MAX_CSV_BYTES = 1_000_000
MAX_CSV_ROWS = 5000

SAME_CURRENCY = _("Choose two different currencies.")
RATE_EXISTS = _("A rate from %(base)s to %(quote)s on %(day)s already exists.")
RATE_NOT_POSITIVE = _("A rate is above zero.")
CSV_TOO_BIG = _("The file is larger than 1 MB.")
CSV_TOO_LONG = _("The file has more than %(max)s rows: split it.")
CSV_NOT_TEXT = _("The file is not UTF-8 text.")
CSV_HEADER = _("The first line must name the columns: base,quote,rate,valid_from.")
CSV_EMPTY = _("The file has no rates.")
ROW_CURRENCY = _("Row %(row)s: unknown currency “%(value)s”.")
ROW_RATE = _("Row %(row)s: the rate “%(value)s” is not a number above zero.")
ROW_DATE = _("Row %(row)s: the date “%(value)s” is not YYYY-MM-DD.")
ROW_SAME = _("Row %(row)s: the two currencies are the same.")
ROW_REPEATED = _("Row %(row)s: repeats row %(first)s.")
ROW_EXISTS = _("Row %(row)s: a rate from %(base)s to %(quote)s on %(day)s already exists.")
PAYPAL_KIND = _("PayPal Payouts sends to PayPal accounts only: choose the PayPal kind.")
PROVIDER_FIELD = _("Required to send through PayPal.")
FEE_PERCENT_RANGE = _("A fee from 0 to 99.99 percent.")
NOT_NEGATIVE = _("Enter zero or more.")
NEEDS_REASON = _("Give a reason the partner will see.")


# Exchange rates


class RateForm(forms.ModelForm):
    class Meta:
        model = ExchangeRate
        fields = ["base", "quote", "rate", "valid_from"]
        widgets = {"valid_from": forms.DateInput(attrs={"type": "date"})}

    def clean_rate(self) -> Decimal:
        rate = self.cleaned_data["rate"]
        if rate <= 0:
            raise ValidationError(RATE_NOT_POSITIVE)
        return rate

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        base, quote, day = data.get("base"), data.get("quote"), data.get("valid_from")
        if base and base == quote:
            self.add_error("quote", SAME_CURRENCY)
        elif (
            base
            and quote
            and day
            and ExchangeRate.objects.filter(base=base, quote=quote, valid_from=day).exists()
        ):
            raise ValidationError(RATE_EXISTS, params={"base": base, "quote": quote, "day": day})
        return data


class RateImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("Columns base,quote,rate,valid_from, e.g. “EUR,USD,1.0850,2025-01-01”."),
    )

    def clean_file(self) -> list[ExchangeRate]:
        """The file's rates (unsaved), or every row's error: one bad row saves nothing."""
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CSV_BYTES:
            raise ValidationError(CSV_TOO_BIG)
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError(CSV_NOT_TEXT) from None
        reader = csv.DictReader(io.StringIO(text))
        header = [(name or "").strip().lower() for name in reader.fieldnames or []]
        if sorted(header) != sorted(RATE_COLUMNS):
            raise ValidationError(CSV_HEADER)
        reader.fieldnames = header
        rates: list[ExchangeRate] = []
        errors: list[ValidationError] = []
        seen: dict[tuple[str, str, date], int] = {}
        for row_number, row in enumerate(reader, 2):
            if row_number - 1 > MAX_CSV_ROWS:
                raise ValidationError(CSV_TOO_LONG, params={"max": MAX_CSV_ROWS})
            values = {k: (v or "").strip() for k, v in row.items() if k in RATE_COLUMNS}
            if not any(values.values()):
                continue  # a blank line
            rate = self._row(row_number, values, errors)
            if rate is None:
                continue
            key = (rate.base, rate.quote, rate.valid_from)
            if key in seen:
                errors.append(
                    ValidationError(ROW_REPEATED, params={"row": row_number, "first": seen[key]})
                )
                continue
            seen[key] = row_number
            rates.append(rate)
        if not rates and not errors:
            raise ValidationError(CSV_EMPTY)
        errors += self._existing(seen)
        if errors:
            raise ValidationError(errors)
        return rates

    @staticmethod
    def _row(
        number: int, values: dict[str, str], errors: list[ValidationError]
    ) -> ExchangeRate | None:
        before = len(errors)
        base, quote = values.get("base", "").upper(), values.get("quote", "").upper()
        for code in (base, quote):
            if code not in CURRENCIES:
                errors.append(ValidationError(ROW_CURRENCY, params={"row": number, "value": code}))
        raw_rate = values.get("rate", "")
        try:
            rate = Decimal(raw_rate)
            if not rate.is_finite() or rate <= 0 or rate != round(rate, 8) or rate >= 10**10:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors.append(ValidationError(ROW_RATE, params={"row": number, "value": raw_rate}))
            rate = None
        raw_day = values.get("valid_from", "")
        try:
            day = date.fromisoformat(raw_day)
        except ValueError:
            errors.append(ValidationError(ROW_DATE, params={"row": number, "value": raw_day}))
            day = None
        if base == quote and base in CURRENCIES:
            errors.append(ValidationError(ROW_SAME, params={"row": number}))
        if len(errors) > before or rate is None or day is None:
            return None
        return ExchangeRate(base=base, quote=quote, rate=rate, valid_from=day, source="csv")

    @staticmethod
    def _existing(rows: dict[tuple[str, str, date], int]) -> list[ValidationError]:
        if not rows:
            return []
        days = {day for _b, _q, day in rows}
        stored = ExchangeRate.objects.filter(valid_from__in=days).values_list(
            "base", "quote", "valid_from"
        )
        return [
            ValidationError(
                ROW_EXISTS,
                params={"row": rows[key], "base": key[0], "quote": key[1], "day": key[2]},
            )
            for key in sorted(set(stored) & rows.keys(), key=lambda k: rows[k])
        ]


# Payout methods


class PayoutMethodForm(forms.ModelForm):
    provider_base_url = forms.URLField(
        label=_("Provider API URL"),
        required=False,
        assume_scheme="https",
        # The client secret travels to this address: never over plain HTTP.
        validators=[URLValidator(schemes=["https"])],
        help_text=_("e.g. https://api-m.paypal.com"),
    )
    provider_secret = forms.CharField(
        label=_("Provider secret"),
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("Stored encrypted and never shown again. Leave empty to keep the saved one."),
    )

    class Meta:
        model = PayoutMethod
        fields = [
            "kind",
            "name",
            "currency",
            "fee_fixed",
            "fee_percent",
            "minimum",
            "schedule",
            "provider",
            "provider_base_url",
            "provider_client_id",
            "provider_secret",
        ]

    def _not_negative(self, name: str) -> Decimal:
        value = self.cleaned_data[name]
        if value < 0:
            raise ValidationError(NOT_NEGATIVE)
        return value

    def clean_fee_fixed(self) -> Decimal:
        return self._not_negative("fee_fixed")

    def clean_minimum(self) -> Decimal:
        return self._not_negative("minimum")

    def clean_fee_percent(self) -> Decimal:
        value = self.cleaned_data["fee_percent"]
        if not 0 <= value < 100:
            raise ValidationError(FEE_PERCENT_RANGE)
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("provider") == PayoutMethod.Provider.PAYPAL:
            if data.get("kind") and data["kind"] != PayoutMethod.Kind.PAYPAL:
                self.add_error("kind", PAYPAL_KIND)
            for name in ("provider_base_url", "provider_client_id"):
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, PROVIDER_FIELD)
            if not data.get("provider_secret") and not self.instance.provider_secret_encrypted:
                self.add_error("provider_secret", PROVIDER_FIELD)
        return data


# The payout queue and settings


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason shown to the partner"), max_length=300)

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(NEEDS_REASON)
        return reason


class BatchCreateForm(forms.Form):
    method = forms.ModelChoiceField(
        label=_("Payout method"), queryset=PayoutMethod.all_tenants_unscoped.none()
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["method"].queryset = PayoutMethod.objects.all()  # type: ignore[attr-defined]


class ManualApprovalForm(forms.ModelForm):
    """The workspace's money guard rails: rewards approved by hand, corrections
    confirmed, and corrections that need a second person."""

    class Meta:
        model = Tenant
        fields = [
            "manual_approval_above",
            "correction_confirm_above",
            "correction_second_approval_above",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in self.Meta.fields:
            value = data.get(name)
            if value is not None and value < 0:
                self.add_error(name, NOT_NEGATIVE)
        return data
