"""Forms of the cabinet's money pages: payout details and withdrawals (validation only)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from rewards.models import PayoutMethod
from rewards.payout_details import clean_details
from rewards.services.ledger import CENT, ZERO
from rewards.services.payouts import BELOW_MINIMUM, NO_DETAILS, OVER_BALANCE

Kind = PayoutMethod.Kind
ACCOUNT_LABELS = {
    Kind.CARD: _("Card number"),
    Kind.BANK: _("IBAN"),
    Kind.YOOMONEY: _("YooMoney wallet number"),
    Kind.PAYPAL: _("PayPal e-mail"),
}
ACCOUNT_AUTOCOMPLETE = {Kind.CARD: "cc-number", Kind.PAYPAL: "email"}
# Card and bank payments go to a named person; wallets and PayPal are named by the account.
NEEDS_HOLDER = {Kind.CARD, Kind.BANK}
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"


class PayoutDetailsForm(forms.Form):
    """The partner's account for one method; the number is checked by clean_details."""

    # Not required here: clean_details says what is missing in the method's own words.
    account = forms.CharField(max_length=200, required=False)
    holder = forms.CharField(label=_("Account holder"), max_length=120, required=False)

    def __init__(self, *args: Any, method: PayoutMethod, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"details-{method.pk}")
        super().__init__(*args, **kwargs)
        self.method = method
        self.masked = ""
        account = self.fields["account"]
        account.label = ACCOUNT_LABELS.get(method.kind, _("Account"))
        account.widget.attrs["autocomplete"] = ACCOUNT_AUTOCOMPLETE.get(method.kind, "off")
        if method.kind in (Kind.CARD, Kind.YOOMONEY):
            account.widget.attrs["inputmode"] = "numeric"
        if method.kind in NEEDS_HOLDER:
            self.fields["holder"].widget.attrs["autocomplete"] = (
                "cc-name" if method.kind == Kind.CARD else "name"
            )
        else:
            del self.fields["holder"]

    def clean_account(self) -> str:
        normalised, self.masked = clean_details(self.method.kind, self.cleaned_data["account"])
        return normalised


class WithdrawForm(forms.Form):
    """Method and amount of a withdrawal, checked against the partner's balances with
    the payout service's own messages (the service checks again, under a lock)."""

    # An empty placeholder (no tenant scope at import); __init__ sets the tenant's methods.
    method = forms.ModelChoiceField(
        label=_("Payout method"),
        queryset=PayoutMethod.all_tenants_unscoped.none(),
        empty_label=None,
    )
    amount = forms.DecimalField(
        label=_("Amount"), max_digits=14, decimal_places=2, min_value=Decimal("0.01")
    )

    def __init__(
        self,
        *args: Any,
        methods: QuerySet[PayoutMethod],
        available: dict[str, Decimal],
        with_details: set[UUID],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["method"].queryset = methods  # type: ignore[attr-defined]
        self.available = available
        self.with_details = with_details

    def clean_amount(self) -> Decimal:
        return self.cleaned_data["amount"].quantize(CENT)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        method: PayoutMethod | None = data.get("method")
        amount: Decimal | None = data.get("amount")
        if method is None:
            return data
        if method.pk not in self.with_details:
            self.add_error("method", ValidationError(NO_DETAILS))
        elif amount is not None and amount < method.minimum:
            self.add_error(
                "amount",
                ValidationError(
                    BELOW_MINIMUM, params={"minimum": method.minimum, "currency": method.currency}
                ),
            )
        elif amount is not None and amount > self.available.get(method.currency, ZERO):
            available = max(self.available.get(method.currency, ZERO), ZERO)
            self.add_error(
                "amount",
                ValidationError(
                    OVER_BALANCE, params={"available": available, "currency": method.currency}
                ),
            )
        return data


class WithdrawConfirmForm(WithdrawForm):
    """The final step: the same fields, hidden, and a one-time token so that a double
    click (or a resent form) asks for the money once."""

    token = forms.RegexField(regex=TOKEN_PATTERN, widget=forms.HiddenInput)
