"""Console: a program's reward rules, bonuses, partner groups and money settings, and
the rule form with its preview."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import IntegrityError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prm.access import can, get_in_tenant_or_404, staff_required
from prm.permissions import Perm
from prm.post_only import post_only
from programs.models import Program
from rewards import selectors
from rewards.forms import (
    RULE_EXISTS,
    BonusRuleForm,
    GroupAssignForm,
    PartnerGroupForm,
    ProgramMoneyForm,
    RewardRuleForm,
)
from rewards.models import BonusRule, PartnerGroup, RewardRule
from rewards.services.preview import rule_preview
from rewards.writes import (
    BONUS_FIELDS,
    GROUP_FIELDS,
    PROGRAM_MONEY_FIELDS,
    RULE_FIELDS,
    partner_set_group,
    record_save,
)


def _back(program: Program) -> HttpResponse:
    return redirect("console:program_rewards", program_id=program.pk)


@staff_required(Perm.PROGRAMS_VIEW)
def program_rewards(request: HttpRequest, program_id: str) -> HttpResponse:
    program = get_in_tenant_or_404(Program, pk=program_id)
    return _page(request, program)


def _page(request: HttpRequest, program: Program, **forms: Any) -> HttpResponse:
    manages = can(request, Perm.PROGRAMS_MANAGE)
    context = {
        "program": program,
        "rules": selectors.program_rules(program),
        "bonuses": BonusRule.objects.filter(program=program)
        .select_related("group")
        .order_by("-is_active", "threshold"),
        "groups": PartnerGroup.objects.annotate(partners_count=Count("partners")).order_by("name"),
        "can_manage": manages,
    }
    if manages:
        context.update(
            money_form=forms.get("money_form") or ProgramMoneyForm(instance=program),
            bonus_form=forms.get("bonus_form") or BonusRuleForm(program=program),
            group_form=forms.get("group_form") or PartnerGroupForm(),
            assign_form=forms.get("assign_form") or GroupAssignForm(program=program),
        )
    return render(request, "console/rewards/rules.html", context)


# Reward rules


@require_http_methods(["GET", "POST"])
@staff_required(Perm.PROGRAMS_MANAGE)
def rule_create(request: HttpRequest, program_id: str) -> HttpResponse:
    program = get_in_tenant_or_404(Program, pk=program_id)
    return _rule_form(request, program, None)


@require_http_methods(["GET", "POST"])
@staff_required(Perm.PROGRAMS_MANAGE)
def rule_edit(request: HttpRequest, rule_id: str) -> HttpResponse:
    rule = get_in_tenant_or_404(RewardRule.objects.select_related("program"), pk=rule_id)
    return _rule_form(request, rule.program, rule)


def _rule_form(request: HttpRequest, program: Program, rule: RewardRule | None) -> HttpResponse:
    """The rule form; its Preview button shows last month under the edited rule and saves
    nothing, its Save button saves."""
    preview = None
    if request.method == "GET":
        form = RewardRuleForm(instance=rule or RewardRule(), program=program)
    else:
        # Bound to a fresh copy: previews and failed saves leave the saved rule alone.
        instance = RewardRule.objects.get(pk=rule.pk) if rule else RewardRule()
        form = RewardRuleForm(request.POST, instance=instance, program=program)
        if form.is_valid():
            if "preview" in request.POST:
                preview = rule_preview(program=program, rule=form.instance)
            else:
                try:
                    saved = record_save(
                        tenant=request.tenant,  # type: ignore[attr-defined]
                        actor=request.user,  # type: ignore[arg-type]
                        obj=form.instance,
                        fields=RULE_FIELDS,
                        action="reward_rule",
                        request=request,
                    )
                except IntegrityError:  # a rule for the same scope saved meanwhile
                    form.add_error(None, RULE_EXISTS)
                else:
                    messages.success(request, _("Rule saved: %s") % saved)
                    return _back(program)
    context = {"program": program, "rule": rule, "form": form, "preview": preview}
    return render(request, "console/rewards/rule_form.html", context)


@staff_required(Perm.PROGRAMS_MANAGE)
@post_only
def rule_deactivate(request: HttpRequest, rule_id: str) -> HttpResponse:
    rule = get_in_tenant_or_404(RewardRule.objects.select_related("program"), pk=rule_id)
    return _deactivate(request, rule, RULE_FIELDS, "reward_rule", _("Rule deactivated: %s") % rule)


# Bonus rules


@staff_required(Perm.PROGRAMS_MANAGE)
@post_only
def bonus_create(request: HttpRequest, program_id: str) -> HttpResponse:
    program = get_in_tenant_or_404(Program, pk=program_id)
    form = BonusRuleForm(request.POST, instance=BonusRule(), program=program)
    if not form.is_valid():
        return _page(request, program, bonus_form=form)
    record_save(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        obj=form.instance,
        fields=BONUS_FIELDS,
        action="bonus_rule",
        request=request,
    )
    messages.success(request, _("Bonus rule added."))
    return _back(program)


@require_http_methods(["GET", "POST"])
@staff_required(Perm.PROGRAMS_MANAGE)
def bonus_edit(request: HttpRequest, bonus_id: str) -> HttpResponse:
    bonus = get_in_tenant_or_404(BonusRule.objects.select_related("program"), pk=bonus_id)
    program = bonus.program
    if request.method == "GET":
        form = BonusRuleForm(instance=bonus, program=program)
    else:
        instance = BonusRule.objects.get(pk=bonus.pk)
        form = BonusRuleForm(request.POST, instance=instance, program=program)
        if form.is_valid():
            record_save(
                tenant=request.tenant,  # type: ignore[attr-defined]
                actor=request.user,  # type: ignore[arg-type]
                obj=form.instance,
                fields=BONUS_FIELDS,
                action="bonus_rule",
                request=request,
            )
            messages.success(request, _("Bonus rule saved."))
            return _back(program)
    return render(
        request,
        "console/rewards/bonus_form.html",
        {"program": program, "bonus": bonus, "form": form},
    )


@staff_required(Perm.PROGRAMS_MANAGE)
@post_only
def bonus_deactivate(request: HttpRequest, bonus_id: str) -> HttpResponse:
    bonus = get_in_tenant_or_404(BonusRule.objects.select_related("program"), pk=bonus_id)
    return _deactivate(request, bonus, BONUS_FIELDS, "bonus_rule", _("Bonus rule deactivated."))


def _deactivate(
    request: HttpRequest,
    obj: RewardRule | BonusRule,
    fields: list[str],
    action: str,
    message: str,
) -> HttpResponse:
    """Reward and bonus rules are switched off the same way: audited, once."""
    if obj.is_active:
        obj.is_active = False
        record_save(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            obj=obj,
            fields=fields,
            action=action,
            request=request,
        )
        messages.success(request, message)
    return _back(obj.program)


# Partner groups and the program's money settings


@staff_required(Perm.PROGRAMS_MANAGE)
@post_only
def group_create(request: HttpRequest, program_id: str) -> HttpResponse:
    program = get_in_tenant_or_404(Program, pk=program_id)
    form = PartnerGroupForm(request.POST, instance=PartnerGroup())
    if not form.is_valid():
        return _page(request, program, group_form=form)
    group = record_save(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        obj=form.instance,
        fields=GROUP_FIELDS,
        action="partner_group",
        request=request,
    )
    messages.success(request, _("Group %s created.") % group.name)
    return _back(program)


@staff_required(Perm.PROGRAMS_MANAGE)
@post_only
def group_assign(request: HttpRequest, program_id: str) -> HttpResponse:
    program = get_in_tenant_or_404(Program, pk=program_id)
    form = GroupAssignForm(request.POST, program=program)
    if not form.is_valid():
        return _page(request, program, assign_form=form)
    partner, group = form.cleaned_data["partner"], form.cleaned_data["group"]
    partner_set_group(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        partner=partner,
        group=group,
        request=request,
    )
    if group:
        messages.success(
            request,
            _("%(partner)s is in the group %(group)s.") % {"partner": partner, "group": group},
        )
    else:
        messages.success(request, _("%s is in no group.") % partner)
    return _back(program)


@staff_required(Perm.PROGRAMS_MANAGE)
@post_only
def program_money(request: HttpRequest, program_id: str) -> HttpResponse:
    program = get_in_tenant_or_404(Program, pk=program_id)
    # Validated on a copy: on errors the page still shows the saved settings.
    form = ProgramMoneyForm(request.POST, instance=Program.objects.get(pk=program.pk))
    if not form.is_valid():
        return _page(request, program, money_form=form)
    form.instance.level_percents = form.cleaned_data["level_percents"]
    record_save(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        obj=form.instance,
        fields=PROGRAM_MONEY_FIELDS,
        action="program_money",
        request=request,
    )
    messages.success(request, _("Money settings of %s saved.") % program.name)
    return _back(program)
