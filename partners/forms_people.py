"""Forms of the partner page, groups, tags, segments and sign-up settings (console), and
of the partner's profile and application (cabinet). They only validate."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.utils.translation import gettext_lazy as _

from antifraud.signals.undeclared_site import site_host
from partners.models import PartnerProfile, PartnerSegment, PartnerTag, SignupQuestion
from programs.models import Program
from rewards.models import PartnerGroup

MAX_INVITES = 200
MAX_SITES = 20
BAD_EMAILS = _("Not e-mail addresses: %(list)s")
TOO_MANY_INVITES = _("At most %(n)s addresses at a time.")
NO_EMAILS = _("Enter at least one e-mail address.")
BAD_SITE = _("Not a site address: %(value)s")
BAD_LINK = _("Not a web address (https://…): %(value)s")
BAD_COUNTRY = _("Use a two-letter country code, e.g. RU or DE.")
TAG_EXISTS = _("A tag with this name already exists.")
REASON_REQUIRED = _("Give a reason: it is kept in the audit log.")
PICK_TARGET = _("Choose a tag or a group for the segment to apply.")
ONE_TARGET = _("Choose a tag or a group, not both.")
VALUE_REQUIRED = _("Enter the value to compare with.")
PERIOD_REQUIRED = _("Enter the period in days (1-3650).")
PERCENT_RANGE = _("Enter a percentage between 1 and 100.")
COUNTRY_ONLY_EQ = _("A country is compared with “equal to”.")
NO_TOP_FOR_JOINED = _("“In the top %” compares amounts, not days since joining.")
CHOICES_REQUIRED = _("List the choices, one per line.")
NO_SUCH_PARTNERS = _("Choose partners from the list.")
COUNTRY_RE = re.compile(r"^[A-Za-z]{2}$")
SPLIT_RE = re.compile(r"[\s,;]+")


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.replace("\x00", "").splitlines() if line.strip()]


class CountryField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 2)
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Country (two letters)"))
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        value = (super().clean(value) or "").strip()
        if value and not COUNTRY_RE.match(value):
            raise ValidationError(BAD_COUNTRY, code="country")
        return value.upper()


def question_field(question: SignupQuestion) -> forms.Field:
    """The form field for one of the tenant's questions."""
    common: dict[str, Any] = {"label": question.label, "required": question.required}
    if question.kind == SignupQuestion.Kind.CHOICE:
        choices = [("", "—")] + [(c, c) for c in question.choice_list]
        return forms.ChoiceField(choices=choices, **common)
    if question.kind == SignupQuestion.Kind.URL:
        return forms.URLField(max_length=500, assume_scheme="https", **common)
    return forms.CharField(max_length=500, **common)


class QuestionsMixin:
    """Adds a field ``q_<id>`` per question; ``answers()`` returns them by question id."""

    questions: list[SignupQuestion]

    def add_questions(self, questions: list[SignupQuestion], initial: dict[str, Any]) -> None:
        self.questions = questions
        for question in questions:
            name = f"q_{question.pk}"
            self.fields[name] = question_field(question)  # type: ignore[attr-defined]
            self.fields[name].initial = initial.get(str(question.pk), "")  # type: ignore[attr-defined]

    def answers(self) -> dict[str, str]:
        data = self.cleaned_data  # type: ignore[attr-defined]
        return {str(q.pk): data.get(f"q_{q.pk}") or "" for q in self.questions}


class ProfileForm(QuestionsMixin, forms.Form):
    """A partner's profile: staff edit it on the partner page, the partner in the cabinet."""

    display_name = forms.CharField(label=_("Name"), max_length=120, required=False)
    company = forms.CharField(label=_("Company"), max_length=120, required=False)
    country = CountryField()
    websites = forms.CharField(
        label=_("Websites"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line, e.g. example.com. Programs may accept traffic only from these."),
    )
    social_links = forms.CharField(
        label=_("Social links"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line, e.g. https://t.me/yourchannel."),
    )

    def __init__(
        self, *args: Any, partner: PartnerProfile, questions: list[SignupQuestion], **kwargs: Any
    ) -> None:
        kwargs.setdefault(
            "initial",
            {
                "display_name": partner.display_name,
                "company": partner.company,
                "country": partner.country,
                "websites": "\n".join(partner.websites or []),
                "social_links": "\n".join(partner.social_links or []),
            },
        )
        super().__init__(*args, **kwargs)
        self.add_questions(questions, partner.details or {})

    def clean_websites(self) -> list[str]:
        sites = []
        for line in _lines(self.cleaned_data["websites"]):
            host = site_host(line)
            if not host or "." not in host or len(line) > 253:
                raise ValidationError(BAD_SITE, params={"value": line[:80]}, code="site")
            if host not in sites:
                sites.append(host)
        if len(sites) > MAX_SITES:
            raise ValidationError(_("At most %(n)s sites."), params={"n": MAX_SITES})
        return sites

    def clean_social_links(self) -> list[str]:
        links = _lines(self.cleaned_data["social_links"])
        check = URLValidator(schemes=["http", "https"])
        for link in links:
            try:
                check(link)
            except ValidationError:
                raise ValidationError(BAD_LINK, params={"value": link[:80]}, code="link") from None
        return links[:MAX_SITES]

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        out = {
            name: data[name]
            for name in ("display_name", "company", "country", "websites", "social_links")
        }
        out["display_name"] = out["display_name"].strip()
        out["company"] = out["company"].strip()
        if self.questions:
            out["details"] = self.answers()
        return out


class PartnerAddForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"))
    display_name = forms.CharField(label=_("Name"), max_length=120, required=False)
    programs = forms.ModelMultipleChoiceField(
        label=_("Programs"),
        queryset=Program.all_tenants_unscoped.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    group = forms.ModelChoiceField(
        label=_("Group"),
        queryset=PartnerGroup.all_tenants_unscoped.none(),
        required=False,
        empty_label=_("No group"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["programs"].queryset = Program.objects.exclude(  # type: ignore[attr-defined]
            status=Program.Status.ARCHIVED
        )
        self.fields["group"].queryset = PartnerGroup.objects.all()  # type: ignore[attr-defined]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if PartnerProfile.objects.filter(user__email__iexact=email).exists():
            raise ValidationError(_("This person is already a partner."), code="exists")
        return email


class PartnerInviteForm(forms.Form):
    emails = forms.CharField(
        label=_("E-mail addresses"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("One or many, separated by new lines, commas or spaces."),
    )
    program = forms.ModelChoiceField(
        label=_("Program to join"),
        queryset=Program.all_tenants_unscoped.none(),
        required=False,
        empty_label=_("None: only the partner cabinet"),
    )
    group = forms.ModelChoiceField(
        label=_("Group"),
        queryset=PartnerGroup.all_tenants_unscoped.none(),
        required=False,
        empty_label=_("The program's default group"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = Program.objects.exclude(  # type: ignore[attr-defined]
            status=Program.Status.ARCHIVED
        )
        self.fields["group"].queryset = PartnerGroup.objects.all()  # type: ignore[attr-defined]

    def clean_emails(self) -> list[str]:
        raw = self.cleaned_data["emails"].replace("\x00", "")
        emails: list[str] = []
        bad: list[str] = []
        for item in SPLIT_RE.split(raw):
            item = item.strip().lower()
            if not item:
                continue
            try:
                validate_email(item)
            except ValidationError:
                bad.append(item[:80])
                continue
            if item not in emails:
                emails.append(item)
        if bad:
            raise ValidationError(BAD_EMAILS, params={"list": ", ".join(bad[:10])}, code="email")
        if not emails:
            raise ValidationError(NO_EMAILS, code="empty")
        if len(emails) > MAX_INVITES:
            raise ValidationError(TOO_MANY_INVITES, params={"n": MAX_INVITES}, code="many")
        return emails


class StatusChangeForm(forms.Form):
    """Block, unblock, approve or reject, with a reason (required to block or reject)."""

    status = forms.ChoiceField(choices=PartnerProfile.Status.choices, widget=forms.HiddenInput)
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        status = data.get("status")
        needs = status in (PartnerProfile.Status.BLOCKED, PartnerProfile.Status.REJECTED)
        if needs and not (data.get("reason") or "").strip():
            self.add_error("reason", REASON_REQUIRED)
        return data


class NoteForm(forms.Form):
    body = forms.CharField(
        label=_("Note"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )


class GroupMoveForm(forms.Form):
    group = forms.ModelChoiceField(
        label=_("Group"),
        queryset=PartnerGroup.all_tenants_unscoped.none(),
        required=False,
        empty_label=_("No group"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = PartnerGroup.objects.all()  # type: ignore[attr-defined]


class TagForm(forms.ModelForm):
    class Meta:
        model = PartnerTag
        fields = ["name"]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError(_("Enter a name."))
        if PartnerTag.objects.filter(name__iexact=name).exclude(pk=self.instance.pk).exists():
            raise ValidationError(TAG_EXISTS, code="exists")
        return name


class TagPickForm(forms.Form):
    tag = forms.ModelChoiceField(label=_("Tag"), queryset=PartnerTag.all_tenants_unscoped.none())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tag"].queryset = PartnerTag.objects.all()  # type: ignore[attr-defined]


class BulkForm(forms.Form):
    """The partners list's bulk action on the checked partners."""

    ACTIONS = [
        ("tag", _("Add the tag")),
        ("untag", _("Remove the tag")),
        ("group", _("Move to the group")),
    ]
    partners = forms.ModelMultipleChoiceField(
        queryset=PartnerProfile.all_tenants_unscoped.none(),
        error_messages={"invalid_choice": NO_SUCH_PARTNERS, "invalid_pk_value": NO_SUCH_PARTNERS},
    )
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    tag = forms.ModelChoiceField(
        label=_("Tag"), queryset=PartnerTag.all_tenants_unscoped.none(), required=False
    )
    group = forms.ModelChoiceField(
        label=_("Group"),
        queryset=PartnerGroup.all_tenants_unscoped.none(),
        required=False,
        empty_label=_("No group"),
    )

    def __init__(self, *args: Any, may_move: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["partners"].queryset = PartnerProfile.objects.all()  # type: ignore[attr-defined]
        self.fields["tag"].queryset = PartnerTag.objects.all()  # type: ignore[attr-defined]
        self.fields["group"].queryset = PartnerGroup.objects.all()  # type: ignore[attr-defined]
        if not may_move:
            self.fields["action"].choices = self.ACTIONS[:2]  # type: ignore[attr-defined]
            del self.fields["group"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") in ("tag", "untag") and not data.get("tag"):
            self.add_error("tag", _("Choose the tag."))
        if len(data.get("partners") or []) > 500:
            self.add_error("partners", _("At most 500 partners at a time."))
        return data


class GroupForm(forms.ModelForm):
    default_for = forms.ModelMultipleChoiceField(
        label=_("Default group of the programs"),
        queryset=Program.all_tenants_unscoped.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Partners who join these programs land in this group."),
    )

    class Meta:
        model = PartnerGroup
        fields = ["name", "hold_days"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["default_for"].queryset = Program.objects.all()  # type: ignore[attr-defined]
        if self.instance.pk:
            self.fields["default_for"].initial = list(
                Program.objects.filter(default_group=self.instance).values_list("pk", flat=True)
            )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if PartnerGroup.objects.filter(name__iexact=name).exclude(pk=self.instance.pk).exists():
            raise ValidationError(_("A group with this name already exists."))
        return name


class SegmentForm(forms.ModelForm):
    tag = forms.ModelChoiceField(
        label=_("Apply the tag"), queryset=PartnerTag.all_tenants_unscoped.none(), required=False
    )
    group = forms.ModelChoiceField(
        label=_("Or move to the group"),
        queryset=PartnerGroup.all_tenants_unscoped.none(),
        required=False,
    )

    class Meta:
        model = PartnerSegment
        fields = [
            "name",
            "metric",
            "comparison",
            "value",
            "country",
            "period_days",
            "min_clicks",
            "tag",
            "group",
            "is_active",
        ]

    def __init__(self, *args: Any, may_move: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tag"].queryset = PartnerTag.objects.all()  # type: ignore[attr-defined]
        if may_move:
            self.fields["group"].queryset = PartnerGroup.objects.all()  # type: ignore[attr-defined]
        else:
            del self.fields["group"]
        self.fields["country"] = CountryField(label=_("Country code (for “Country”)"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        Metric, Cmp = PartnerSegment.Metric, PartnerSegment.Comparison
        metric, cmp = data.get("metric"), data.get("comparison")
        tag, group = data.get("tag"), data.get("group")
        if not tag and not group:
            self.add_error("tag", PICK_TARGET)
        if tag and group:
            self.add_error("group", ONE_TARGET)
        if metric == Metric.COUNTRY:
            if cmp != Cmp.EQ:
                self.add_error("comparison", COUNTRY_ONLY_EQ)
            if not data.get("country"):
                self.add_error("country", BAD_COUNTRY)
            return data
        if cmp == Cmp.TOP_PERCENT and metric == Metric.JOINED_DAYS:
            self.add_error("comparison", NO_TOP_FOR_JOINED)
        value = data.get("value")
        if value is None:
            self.add_error("value", VALUE_REQUIRED)
        elif value < 0:
            self.add_error("value", _("Enter a value of 0 or more."))
        elif cmp == Cmp.TOP_PERCENT and not (0 < value <= 100):
            self.add_error("value", PERCENT_RANGE)
        period = data.get("period_days")
        if metric != Metric.JOINED_DAYS and not (period and 1 <= period <= 3650):
            self.add_error("period_days", PERIOD_REQUIRED)
        return data


class QuestionForm(forms.ModelForm):
    class Meta:
        model = SignupQuestion
        fields = [
            "label",
            "kind",
            "choices",
            "required",
            "on_application",
            "in_profile",
            "position",
            "is_active",
        ]
        widgets = {"choices": forms.Textarea(attrs={"rows": 3})}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == SignupQuestion.Kind.CHOICE and not _lines(data.get("choices") or ""):
            self.add_error("choices", CHOICES_REQUIRED)
        return data


class TermsForm(forms.Form):
    text = forms.CharField(
        label=_("Terms partners accept"),
        max_length=50000,
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text=_("Saving publishes a new version; partners accept the newest."),
    )


class ApplicationForm(QuestionsMixin, forms.Form):
    """The partner's application: the tenant's questions and the current terms."""

    def __init__(
        self,
        *args: Any,
        questions: list[SignupQuestion],
        terms_required: bool,
        initial_answers: dict[str, Any],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.add_questions(questions, initial_answers)
        if terms_required:
            self.fields["accept_terms"] = forms.BooleanField(
                label=_("I accept the partner terms above"), required=True
            )
