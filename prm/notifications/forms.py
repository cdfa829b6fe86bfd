from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from prm.notifications.kinds import Kind
from prm.notifications.models import Notification


class PreferencesForm(forms.Form):
    """One checkbox per kind the person receives (checked: on), and the e-mail language."""

    language = forms.ChoiceField(label=_("E-mail language"), required=False)

    def __init__(self, *args: Any, kinds: list[Kind], muted: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kinds = kinds
        self.fields["language"].choices = [("", _("The workspace's language")), *settings.LANGUAGES]
        for kind in kinds:
            self.fields[f"kind_{kind}"] = forms.BooleanField(
                label=kind.label, required=False, initial=str(kind) not in muted
            )
        self.order_fields([f"kind_{k}" for k in kinds] + ["language"])

    def muted(self) -> list[str]:
        return [str(k) for k in self.kinds if not self.cleaned_data.get(f"kind_{k}")]


class OutboxFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("status"),
        required=False,
        choices=[("", _("Any")), *Notification.Status.choices],
    )
    kind = forms.ChoiceField(
        label=_("kind"), required=False, choices=[("", _("Any")), *Kind.choices]
    )
