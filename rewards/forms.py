"""Forms of the console's reward pages: rules, bonuses, groups, a program's money settings,
the reward list and the partner ledger. They only validate; the views write.

Payouts, payout methods and exchange rates are in ``rewards.forms_payouts``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from partners.search import PartnerField, partners_for_choice, partners_in_program
from prm.models.tenant import CURRENCY_CHOICES
from programs.models import Program
from rewards.models import BonusRule, LedgerEntry, PartnerGroup, Reward, RewardRule

HUNDRED = Decimal(100)

PERCENT_TOO_HIGH = _("A percent cannot be above 100.")
LEAD_NEEDS_FIXED = _("A lead earns a fixed amount: choose “Fixed amount”.")
NEEDS_COUNT = _("Say how many payments are rewarded.")
NEEDS_REFERRED_VALUE = _("Say how much the referred customer gets.")
PICK_GROUP = _("Choose the group.")
PICK_PARTNER = _("Choose the partner.")
RULE_EXISTS = _("An active rule for this event and scope already exists: edit that one instead.")
TIER_SYNTAX = _(
    "Line %(line)s: write a tier as “min_conversions=10 → 25” or “min_revenue=5000 → 30”."
)
TIER_NOT_HIGHER = _("Line %(line)s: a tier pays more than the rule itself (%(value)s).")
MUST_BE_POSITIVE = _("Enter an amount above zero.")
GROUP_EXISTS = _("A group with this name already exists.")
BAD_PERCENTS = _("Enter numbers from 0 to 100 separated by commas, e.g. “10, 5”.")
TOO_MANY_PERCENTS = _("With %(levels)s levels, give at most %(count)s numbers (levels 2 on).")
NEEDS_REASON = _("Give a reason the partner will see.")
NOT_NEGATIVE = _("Enter zero or more.")
NOT_ZERO = _("The amount cannot be zero.")
LEVELS_RANGE = _("From 1 to 10 levels.")
WHOLE_NUMBER = _("The number of conversions is a whole number.")

_TIER_RE = re.compile(
    r"^(min_conversions|min_revenue)\s*=\s*(\d+(?:\.\d{1,2})?)\s*(?:→|->|=>)\s*(\d+(?:\.\d{1,2})?)$"
)


def _positive(value: Decimal | None) -> Decimal | None:
    if value is not None and value <= 0:
        raise ValidationError(MUST_BE_POSITIVE)
    return value


# Reward rules


def tiers_to_text(tiers: list[dict[str, Any]]) -> str:
    lines = []
    for tier in tiers or []:
        for metric in ("min_conversions", "min_revenue"):
            if metric in tier:
                lines.append(f"{metric}={tier[metric]} → {tier.get('value', '')}")
    return "\n".join(lines)


def parse_tiers(text: str, *, value: Decimal | None, percent: bool) -> list[dict[str, Any]]:
    """The tiers textarea as the JSON the rule stores, or every line's error at once."""
    tiers: list[dict[str, Any]] = []
    errors: list[ValidationError] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        match = _TIER_RE.match(line)
        if not match or (match[1] == "min_conversions" and "." in match[2]):
            errors.append(ValidationError(TIER_SYNTAX, params={"line": number}))
            continue
        metric, threshold, rate = match[1], match[2], Decimal(match[3])
        if percent and rate > HUNDRED:
            errors.append(ValidationError(PERCENT_TOO_HIGH))
        elif value is not None and rate <= value:
            errors.append(ValidationError(TIER_NOT_HIGHER, params={"line": number, "value": value}))
        tiers.append(
            {
                metric: int(threshold) if metric == "min_conversions" else threshold,
                "value": str(rate),
            }
        )
    if errors:
        raise ValidationError(errors)
    return tiers


class RewardRuleForm(forms.ModelForm):
    SCOPES = [
        ("program", _("Everyone in the program")),
        ("group", _("A partner group")),
        ("partner", _("One partner")),
    ]

    scope = forms.ChoiceField(label=_("Applies to"), choices=SCOPES, initial="program")
    # Declared: the default FK fields would query at import, outside any tenant scope.
    group = forms.ModelChoiceField(
        label=_("Group"), queryset=PartnerGroup.all_tenants_unscoped.none(), required=False
    )
    partner = PartnerField(label=_("Partner"), required=False)
    tiers_text = forms.CharField(
        label=_("Tiers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "One per line, e.g. “min_conversions=10 → 25” or “min_revenue=5000 → 30”: the "
            "partner's volume this month picks the highest tier reached."
        ),
    )

    class Meta:
        model = RewardRule
        fields = [
            "scope",
            "group",
            "partner",
            "event",
            "kind",
            "value",
            "recurring",
            "recurring_count",
            "min_order_amount",
            "new_customers_only",
            "cap_per_conversion",
            "cap_per_partner_month",
            "tiers_text",
            "referred_reward",
            "referred_value",
        ]

    def __init__(self, *args: Any, program: Program, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.program = program
        self.instance.program = program
        self.instance.tenant_id = program.tenant_id
        self.fields["group"].queryset = PartnerGroup.objects.all()  # type: ignore[attr-defined]
        self.fields["partner"].queryset = partners_in_program(program)  # type: ignore[attr-defined]
        self.fields["partner"].search_within(program=program.pk)  # type: ignore[attr-defined]
        if not self.is_bound and self.instance.pk and not self.instance._state.adding:
            self.initial["scope"] = self.instance.scope
            self.initial["tiers_text"] = tiers_to_text(self.instance.tiers)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        scope = data.get("scope")
        # Only the chosen scope's field counts: the other one is cleared, never an error.
        if scope != "group":
            data["group"] = None
        if scope != "partner":
            data["partner"] = None
        if scope == "group" and not data.get("group"):
            self.add_error("group", PICK_GROUP)
        if scope == "partner" and not data.get("partner"):
            self.add_error("partner", PICK_PARTNER)
        percent = data.get("kind") == RewardRule.Kind.PERCENT
        value = data.get("value")
        if percent and value is not None and value > HUNDRED:
            self.add_error("value", PERCENT_TOO_HIGH)
        if data.get("event") == RewardRule.Event.LEAD and data.get("kind") != RewardRule.Kind.FIXED:
            self.add_error("kind", LEAD_NEEDS_FIXED)
        if data.get("recurring") == RewardRule.Recurring.FIRST_N and not data.get(
            "recurring_count"
        ):
            self.add_error("recurring_count", NEEDS_COUNT)
        referred = data.get("referred_reward")
        if referred and referred != RewardRule.ReferredReward.NONE:
            referred_value = data.get("referred_value")
            if not referred_value or referred_value <= 0:
                self.add_error("referred_value", NEEDS_REFERRED_VALUE)
            elif referred == RewardRule.ReferredReward.DISCOUNT and referred_value > HUNDRED:
                self.add_error("referred_value", PERCENT_TOO_HIGH)
        try:
            data["tiers"] = parse_tiers(data.get("tiers_text", ""), value=value, percent=percent)
        except ValidationError as exc:
            self.add_error("tiers_text", exc)
        if data.get("event") and not self.errors and self._duplicate(data):
            raise ValidationError(RULE_EXISTS)
        return data

    def clean_value(self) -> Decimal:
        value = self.cleaned_data["value"]
        if value < 0:
            raise ValidationError(NOT_NEGATIVE)
        return value

    def clean_cap_per_conversion(self) -> Decimal | None:
        return _positive(self.cleaned_data.get("cap_per_conversion"))

    def clean_cap_per_partner_month(self) -> Decimal | None:
        return _positive(self.cleaned_data.get("cap_per_partner_month"))

    def clean_min_order_amount(self) -> Decimal | None:
        return _positive(self.cleaned_data.get("min_order_amount"))

    def _duplicate(self, data: dict[str, Any]) -> bool:
        others = RewardRule.objects.filter(
            program=self.program,
            event=data["event"],
            is_active=True,
            group=data.get("group"),
            partner=data.get("partner"),
        )
        if not self.instance._state.adding:
            others = others.exclude(pk=self.instance.pk)
        return others.exists()

    def _post_clean(self) -> None:
        super()._post_clean()
        if "tiers" in self.cleaned_data:
            self.instance.tiers = self.cleaned_data["tiers"]
        if self.cleaned_data.get("referred_reward") == RewardRule.ReferredReward.NONE:
            self.instance.referred_value = None
        if self.cleaned_data.get("recurring") != RewardRule.Recurring.FIRST_N:
            self.instance.recurring_count = None


class BonusRuleForm(forms.ModelForm):
    group = forms.ModelChoiceField(
        label=_("Only for the group"),
        queryset=PartnerGroup.all_tenants_unscoped.none(),
        required=False,
        empty_label=_("Everyone in the program"),
        help_text=_("Only this group's partners can earn the bonus."),
    )

    class Meta:
        model = BonusRule
        fields = ["group", "metric", "threshold", "amount"]

    def __init__(self, *args: Any, program: Program, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.program = program
        self.instance.tenant_id = program.tenant_id
        self.fields["group"].queryset = PartnerGroup.objects.all()  # type: ignore[attr-defined]

    def clean_threshold(self) -> Decimal | None:
        return _positive(self.cleaned_data.get("threshold"))

    def clean_amount(self) -> Decimal | None:
        return _positive(self.cleaned_data.get("amount"))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        threshold = data.get("threshold")
        if (
            data.get("metric") == BonusRule.Metric.CONVERSIONS
            and threshold is not None
            and threshold != threshold.to_integral_value()
        ):
            self.add_error("threshold", WHOLE_NUMBER)
        return data


# Partner groups


class PartnerGroupForm(forms.ModelForm):
    class Meta:
        model = PartnerGroup
        fields = ["name", "hold_days"]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if PartnerGroup.objects.filter(name__iexact=name).exclude(pk=self.instance.pk).exists():
            raise ValidationError(GROUP_EXISTS)
        return name


class GroupAssignForm(forms.Form):
    partner = PartnerField(label=_("Partner"))
    group = forms.ModelChoiceField(
        label=_("Group"),
        queryset=PartnerGroup.all_tenants_unscoped.none(),
        required=False,
        empty_label=_("No group"),
    )

    def __init__(self, *args: Any, program: Program, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["partner"].queryset = partners_in_program(program)  # type: ignore[attr-defined]
        self.fields["partner"].search_within(program=program.pk)  # type: ignore[attr-defined]
        self.fields["group"].queryset = PartnerGroup.objects.all()  # type: ignore[attr-defined]


# A program's money settings


class ProgramMoneyForm(forms.ModelForm):
    level_percents_text = forms.CharField(
        # xgettext:no-python-format
        label=_("Upline shares, % of the level-1 reward"),
        required=False,
        help_text=_("One number per level from 2 on, e.g. “10, 5”."),
    )

    class Meta:
        model = Program
        fields = ["hold_days", "levels", "level_percents_text", "reward_budget"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["level_percents_text"] = ", ".join(
                str(p) for p in self.instance.level_percents or []
            )

    def clean_levels(self) -> int:
        levels = self.cleaned_data["levels"]
        if not 1 <= levels <= 10:  # the model's check constraint, said kindly
            raise ValidationError(LEVELS_RANGE)
        return levels

    def clean_reward_budget(self) -> Decimal | None:
        return _positive(self.cleaned_data.get("reward_budget"))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        text = data.get("level_percents_text", "")
        percents: list[int | float] = []
        try:
            for part in [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]:
                number = Decimal(part)
                if not number.is_finite() or not 0 <= number <= HUNDRED:
                    raise ValueError(part)
                percents.append(
                    int(number) if number == number.to_integral_value() else float(number)
                )
        except (ArithmeticError, ValueError):
            self.add_error("level_percents_text", BAD_PERCENTS)
            return data
        levels = data.get("levels")
        if levels is not None and len(percents) > max(levels - 1, 0):
            self.add_error(
                "level_percents_text",
                ValidationError(
                    TOO_MANY_PERCENTS, params={"levels": levels, "count": max(levels - 1, 0)}
                ),
            )
        data["level_percents"] = percents
        return data


# The reward list


class RewardFilterForm(forms.Form):
    FLAGGED = [("", _("Any")), ("yes", _("Held for review")), ("no", _("Not held"))]

    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("Any"))] + Reward.Status.choices, required=False
    )
    program = forms.ModelChoiceField(
        label=_("Program"),
        queryset=Program.all_tenants_unscoped.none(),
        required=False,
        empty_label=_("Any"),
    )
    partner = PartnerField(label=_("Partner"), required=False)
    flagged = forms.ChoiceField(label=_("Review"), choices=FLAGGED, required=False)
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("Any"))] + Reward.Kind.choices, required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = Program.objects.all()  # type: ignore[attr-defined]
        self.fields["partner"].queryset = partners_for_choice()  # type: ignore[attr-defined]


class RewardBulkForm(forms.Form):
    ACTIONS = [
        ("approve", _("Approve")),
        ("reject", _("Reject")),
        ("hold", _("Hold for review")),
    ]

    rewards = forms.ModelMultipleChoiceField(
        label=_("Rewards"), queryset=Reward.all_tenants_unscoped.none()
    )
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        required=False,
        help_text=_(
            "Required to reject, and shown to the partner; a hold's reason stays internal."
        ),
    )
    # The answer to "some are held for review": approve them too, or only the others.
    flagged = forms.ChoiceField(
        choices=[("", ""), ("include", "include"), ("skip", "skip")], required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["rewards"].queryset = Reward.objects.select_related(  # type: ignore[attr-defined]
            "partner", "tenant"
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["reason"] = data.get("reason", "").strip()
        if data.get("action") == "reject" and not data["reason"]:
            self.add_error("reason", NEEDS_REASON)
        return data


# The partner ledger


class LedgerAdjustForm(forms.Form):
    KINDS = [
        (LedgerEntry.Kind.ADJUSTMENT, _("Adjustment (+ or −)")),
        (LedgerEntry.Kind.PENALTY, _("Penalty")),
    ]

    kind = forms.ChoiceField(label=_("Kind"), choices=KINDS)
    currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCY_CHOICES)
    amount = forms.DecimalField(
        label=_("Amount"),
        max_digits=12,
        decimal_places=2,
        help_text=_("An adjustment may be negative; a penalty is always taken off."),
    )
    reason = forms.CharField(label=_("Reason shown to the partner"), max_length=300)
    # Made when the form is shown: submitting it twice posts one entry.
    token = forms.UUIDField(widget=forms.HiddenInput)
    # Set by the confirmation step that large corrections go through.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise ValidationError(NOT_ZERO)
        return amount

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(NEEDS_REASON)
        return reason
