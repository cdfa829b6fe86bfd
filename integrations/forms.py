"""Console forms of the CRM pages that are the same for every CRM (the connection
form itself is each CRM's own: integrations/crm/<provider>/forms.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from integrations.crm.reward_values import TO_CRM_ONLY
from integrations.models import CrmFieldMap, CrmStageMap
from programs.models import Lead, Program


class ProgramForm(forms.Form):
    program = forms.ModelChoiceField(
        queryset=Program.all_tenants_unscoped.none(),
        required=False,
        label=_("Program for leads created in the CRM"),
        help_text=_(
            "A deal created in the CRM with a partner's referral code becomes a lead of "
            "this program, credited to that partner."
        ),
    )

    import_unknown_codes = forms.BooleanField(
        required=False,
        label=_("Also import CRM deals whose referral code is not one of ours"),
        help_text=_(
            "Off: a CRM record becomes a lead here only when its code belongs to one of "
            "this workspace's partners (a CRM shared with other systems stays theirs). "
            "On: such records become leads credited to nobody."
        ),
    )

    sync_partners = forms.BooleanField(
        required=False,
        label=_("Also sync partners as CRM contacts"),
        help_text=_(
            "Each partner becomes one contact in the CRM, with name, e-mail, tags, "
            "segments and balances, kept up to date when they change (an erased "
            "partner's contact keeps nothing personal). Turning this on sends every "
            "partner once."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = Program.objects.order_by("name")  # type: ignore[attr-defined]


class FieldMapForm(forms.ModelForm):
    class Meta:
        model = CrmFieldMap
        fields = ["crm_field", "direction", "master", "strategy"]

    def __init__(self, *args: Any, crm_fields: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", _("— not mapped —"))] + [
            (f["key"], f"{f['label']} ({f['key']})") for f in crm_fields
        ]
        if self.instance.prm_field == "status":  # the deal's stage, through the stage map
            choices = [("stage", _("Deal stage (see Stages)"))]
        current = self.instance.crm_field
        if current and current not in {key for key, _label in choices}:
            choices.append((current, current))
        self.fields["crm_field"] = forms.ChoiceField(
            choices=choices, required=False, label=_("CRM field")
        )
        for name in ("crm_field", "direction", "master", "strategy"):
            self.fields[name].widget.attrs["aria-label"] = (
                f"{self.instance.get_prm_field_display()}: {self.fields[name].label}"
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if (
            data.get("strategy") == CrmFieldMap.Strategy.MERGE
            and self.instance.prm_field != "notes"
        ):
            self.add_error("strategy", _("Only notes can be merged."))
        if (
            self.instance.prm_field in TO_CRM_ONLY
            and data.get("direction") != CrmFieldMap.Direction.TO_CRM
        ):
            # Rewards are decided here: a CRM edit must never change what a partner earns.
            self.add_error("direction", _("Reward fields are written to the CRM only."))
        return data


STATUS_CHOICES = [("", _("— leave the status alone —")), *Lead.Status.choices]


class StageMapForm(forms.Form):
    lead_status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)

    def __init__(self, *args: Any, stage: CrmStageMap, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lead_status"].widget.attrs["aria-label"] = (
            f"{stage.pipeline_name} / {stage.stage_name}"
        )
