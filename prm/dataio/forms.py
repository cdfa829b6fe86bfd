"""Forms of the import and scheduled-export pages (they only validate)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from prm.dataio.models import Format, ScheduledExport
from prm.dataio.registry import ExportSource
from prm.http import address_problem


class ImportForm(forms.Form):
    file = forms.FileField(label=_("File (.csv or .xlsx)"))
    invite = forms.BooleanField(
        label=_("E-mail each new partner an invitation to their cabinet"), required=False
    )


class ScheduledExportForm(forms.ModelForm):
    source = forms.ChoiceField(label=_("List"))
    url = forms.URLField(label=_("URL"), required=False, max_length=500, assume_scheme="https")
    params = forms.CharField(
        label=_("Filters"),
        required=False,
        max_length=2000,
        help_text=_("The list's filters as in its address after “?”, e.g. status=new."),
    )

    class Meta:
        model = ScheduledExport
        fields = [
            "name",
            "source",
            "params",
            "format",
            "frequency",
            "delivery",
            "recipients",
            "url",
        ]
        help_texts = {  # noqa: RUF012
            "recipients": _("E-mail addresses, separated by commas."),
            "url": _("The file is POSTed here (public addresses only)."),
        }

    def __init__(self, *args: Any, sources: list[ExportSource], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Lists with ids in their address (a partner's ledger) are exported from the list.
        self.fields["source"].choices = [(s.key, s.title) for s in sources if s.key != "ledger"]
        self.fields["format"].choices = Format.choices

    def clean_params(self) -> str:
        value = self.cleaned_data["params"].strip().lstrip("?")
        QueryDict(value)  # parses anything; kept as typed
        return value

    def clean_recipients(self) -> str:
        addresses = [
            a.strip() for a in self.cleaned_data["recipients"].replace(";", ",").split(",")
        ]
        addresses = [a for a in addresses if a]
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                raise ValidationError(
                    _("“%(value)s” is not an e-mail address.") % {"value": address}
                ) from None
        if len(addresses) > 20:
            raise ValidationError(_("At most 20 recipients."))
        return ", ".join(addresses)

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        if url:
            if not url.lower().startswith(("https://", "http://")):
                raise ValidationError(_("Give an http(s) address."))
            problem = address_problem(url)
            if problem:
                raise ValidationError(problem)
        return url

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        delivery = data.get("delivery")
        if delivery == ScheduledExport.Delivery.WEBHOOK and not data.get("url"):
            if "url" not in self.errors:
                self.add_error("url", _("Give the URL the file is POSTed to."))
        elif (
            delivery
            and delivery != ScheduledExport.Delivery.WEBHOOK
            and not data.get("recipients")
            and "recipients" not in self.errors
        ):
            self.add_error("recipients", _("Give at least one e-mail address."))
        return data
