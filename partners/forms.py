"""Forms of the partners' console pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from partners.models import PartnerProfile

NOT_THEIR_EMAIL = _("Type the partner's e-mail address exactly as shown to confirm.")


class PartnerEraseForm(forms.Form):
    """Erasing cannot be undone: the person types the partner's e-mail to confirm."""

    email = forms.CharField(label=_("The partner's e-mail, to confirm"), max_length=254)
    reason = forms.CharField(
        label=_("Reason (kept in the audit log)"),
        max_length=300,
        help_text=_("For example: the partner's request of 12 May, ticket 4711."),
    )

    def __init__(self, partner: PartnerProfile, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.partner = partner

    def clean_email(self) -> str:
        email: str = self.cleaned_data["email"].strip()
        if email.casefold() != self.partner.user.email.casefold():
            raise forms.ValidationError(NOT_THEIR_EMAIL, code="email")
        return email
