"""Forms of the console and cabinet pages of programs, leads and conversions.

They only validate; the views hand ``cleaned_data`` to one service.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from partners.search import PartnerField, partners_for_choice, partners_in_program
from prm.models import Membership
from prm.permissions import ROLE_PERMISSIONS, Perm
from programs.models import Conversion, Enrollment, Lead, Program

REF_PARAM_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# Query parameters our own links already use: a program's ref_param must not clash.
RESERVED_PARAMS = {"to", "sub", "prm_vid", "page"}
DOMAIN_RE = re.compile(r"^\.?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
CODE_RE = re.compile(r"^[A-Za-z0-9_-]{3,64}$")

BAD_LANDING_URL = _("Line %(line)s is not an http(s) address: %(url)s")
BAD_REF_PARAM = _("Use 1-32 letters, digits, dashes or underscores.")
RESERVED_REF_PARAM = _("This parameter name is used by the platform's own links.")
BAD_COOKIE_DOMAIN = _("Enter a domain such as .example.com.")
BAD_CODE = _("Use 3-64 letters, digits, dashes or underscores.")
PICK_STATUS = _("Choose the new status.")
PICK_MANAGER = _("Choose a manager.")


def lead_managers() -> Any:
    """Staff who may work leads: the people a lead can be assigned to."""
    return Membership.objects.filter(role__in=ROLE_PERMISSIONS[Perm.LEADS_MANAGE]).select_related(
        "user"
    )


class ManagerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Membership) -> str:
        return obj.user.display_name


# Querysets are set per form instance: the scoped managers refuse to build one at import
# time, outside any tenant scope (the class-level ``none()`` placeholders touch nothing).


def _code_field(label: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=64,
        help_text=_("Leave empty to generate one."),
    )


def _clean_code(value: str) -> str:
    value = value.strip()
    if value and not CODE_RE.match(value):
        raise ValidationError(BAD_CODE)
    return value


# Console: programs


class ProgramForm(forms.ModelForm):
    cookie_days = forms.IntegerField(
        label=_("cookie window, days"),
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        min_value=1,
        max_value=3650,
    )

    class Meta:
        model = Program
        fields = [
            "name",
            "product",
            "kind",
            "status",
            "currency",
            "landing_urls",
            "ref_param",
            "cookie_days",
            "attribution",
            "join_policy",
            "lead_assignment",
            "cookie_domain",
            "terms",
            # Traffic rules the antifraud signals check (README "Antifraud").
            "forbid_paid_search",
            "require_declared_sites",
            "forbid_no_referrer",
        ]
        widgets = {
            "landing_urls": forms.Textarea(attrs={"rows": 3}),
            "terms": forms.Textarea(attrs={"rows": 5}),
        }

    def clean_landing_urls(self) -> str:
        validate = URLValidator(schemes=["http", "https"])
        urls = []
        for number, line in enumerate(self.cleaned_data["landing_urls"].splitlines(), 1):
            url = line.strip()
            if not url:
                continue
            try:
                validate(url)
            except ValidationError:
                raise ValidationError(BAD_LANDING_URL % {"line": number, "url": url}) from None
            urls.append(url)
        return "\n".join(urls)

    def clean_ref_param(self) -> str:
        value = self.cleaned_data["ref_param"].strip()
        if not REF_PARAM_RE.match(value):
            raise ValidationError(BAD_REF_PARAM)
        if value.lower() in RESERVED_PARAMS or value.lower().startswith("utm_"):
            raise ValidationError(RESERVED_REF_PARAM)
        return value

    def clean_cookie_domain(self) -> str:
        value = self.cleaned_data["cookie_domain"].strip().lower()
        if value and not DOMAIN_RE.match(value):
            raise ValidationError(BAD_COOKIE_DOMAIN)
        return value


class EnrollForm(forms.Form):
    partner = PartnerField(label=_("Partner"))
    code = _code_field(_("Referral code"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_enroll_%s")  # shares the page with PromoCodeForm
        super().__init__(*args, **kwargs)
        self.fields["partner"].queryset = partners_for_choice()  # type: ignore[attr-defined]

    def clean_code(self) -> str:
        return _clean_code(self.cleaned_data["code"])


class EnrollmentStatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=[
            (Enrollment.Status.ACTIVE, Enrollment.Status.ACTIVE.label),
            (Enrollment.Status.REJECTED, Enrollment.Status.REJECTED.label),
        ]
    )


class PromoCodeForm(forms.Form):
    """Console: a promo code for one of the program's enrolled partners."""

    partner = PartnerField(label=_("Partner"))
    code = _code_field(_("Promo code"))

    def __init__(self, *args: Any, program: Program, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_promo_%s")  # shares the page with EnrollForm
        super().__init__(*args, **kwargs)
        field: PartnerField = self.fields["partner"]  # type: ignore[assignment]
        field.queryset = partners_in_program(program, active_only=True)
        field.search_within(program=program.pk, enrolled="active")

    def clean_code(self) -> str:
        return _clean_code(self.cleaned_data["code"])


class CodeForm(forms.Form):
    """Cabinet: the partner's own promo code, chosen or generated."""

    code = _code_field(_("Promo code"))

    def clean_code(self) -> str:
        return _clean_code(self.cleaned_data["code"])


# Console: leads


class LeadFilterForm(forms.Form):
    SORTS = ["created_at", "status", "name"]

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    program = forms.ModelChoiceField(
        label=_("Program"), queryset=Program.all_tenants_unscoped.none(), required=False
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("Any"))] + Lead.Status.choices, required=False
    )
    partner = PartnerField(label=_("Partner"), required=False)
    manager = forms.CharField(label=_("Manager"), required=False)
    duplicates = forms.BooleanField(label=_("Duplicates only"), required=False)
    sort = forms.CharField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = Program.objects.all()  # type: ignore[attr-defined]
        self.fields["partner"].queryset = partners_for_choice()  # type: ignore[attr-defined]

    def clean_q(self) -> str:
        # PostgreSQL refuses NUL in text (a DataError, i.e. a 500); no stored value has one.
        return self.cleaned_data["q"].replace("\x00", "").strip()

    def clean_manager(self) -> Membership | str | None:
        value = self.cleaned_data["manager"]
        if value in ("", "none"):
            return value or None
        try:
            return lead_managers().get(pk=value)
        except (Membership.DoesNotExist, ValueError, ValidationError):
            raise ValidationError(PICK_MANAGER) from None

    def clean_sort(self) -> str:
        value = self.cleaned_data["sort"]
        return value if value.lstrip("-") in self.SORTS else "-created_at"


class LeadForm(forms.Form):
    """Console: a lead added by hand."""

    program = forms.ModelChoiceField(
        label=_("Program"), queryset=Program.all_tenants_unscoped.none()
    )
    name = forms.CharField(label=pgettext_lazy("person", "Name"), max_length=200, required=False)
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    external_id = forms.CharField(label=_("External id"), max_length=128, required=False)
    partner = PartnerField(
        label=_("Credit to partner"),
        required=False,
        help_text=_("Optional; the partner must be active in the program."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = Program.objects.exclude(  # type: ignore[attr-defined]
            status=Program.Status.ARCHIVED
        )
        self.fields["partner"].queryset = partners_for_choice()  # type: ignore[attr-defined]


class DealForm(forms.Form):
    """Cabinet: a deal registered by the partner."""

    name = forms.CharField(label=_("Contact name"), max_length=200, required=False)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)


class LeadStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Lead.Status.choices)


class LeadAssignForm(forms.Form):
    manager = ManagerChoiceField(
        label=_("Manager"),
        queryset=Membership.all_tenants_unscoped.none(),
        required=False,
        empty_label=_("Nobody (unassign)"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["manager"].queryset = lead_managers()  # type: ignore[attr-defined]


class LeadNoteForm(forms.Form):
    text = forms.CharField(
        label=_("Note"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )


class LeadBulkForm(forms.Form):
    ACTIONS = [
        ("status", _("Set status")),
        ("assign", _("Assign to manager")),
        ("unassign", _("Unassign")),
    ]

    leads = forms.ModelMultipleChoiceField(queryset=Lead.all_tenants_unscoped.none())
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", "—")] + Lead.Status.choices, required=False
    )
    manager = ManagerChoiceField(
        label=_("Manager"), queryset=Membership.all_tenants_unscoped.none(), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["leads"].queryset = Lead.objects.all()  # type: ignore[attr-defined]
        self.fields["manager"].queryset = lead_managers()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        action = data.get("action")
        if action == "status" and not data.get("status"):
            self.add_error("status", PICK_STATUS)
        if action == "assign" and not data.get("manager"):
            self.add_error("manager", PICK_MANAGER)
        return data


# Console: conversions


class ConversionFilterForm(forms.Form):
    program = forms.ModelChoiceField(
        label=_("Program"), queryset=Program.all_tenants_unscoped.none(), required=False
    )
    partner = PartnerField(label=_("Partner"), required=False)
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("Any"))] + Conversion.Status.choices, required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = Program.objects.all()  # type: ignore[attr-defined]
        self.fields["partner"].queryset = partners_for_choice()  # type: ignore[attr-defined]


# Cabinet: the link builder (a GET form; the page shows the built links)


class LinkBuilderForm(forms.Form):
    to = forms.ChoiceField(label=_("Landing page"), choices=[])
    sub = forms.CharField(label=_("Sub id"), max_length=64, required=False)
    utm_source = forms.CharField(label="utm_source", max_length=200, required=False)
    utm_medium = forms.CharField(label="utm_medium", max_length=200, required=False)
    utm_campaign = forms.CharField(label="utm_campaign", max_length=200, required=False)

    def __init__(self, *args: Any, program: Program, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to"].choices = [(u, u) for u in program.landing_url_list]  # type: ignore[attr-defined]
