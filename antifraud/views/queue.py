"""Console: the review queue, an item with its reasons and evidence, and decisions on
one item or many."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from antifraud import selectors
from antifraud.forms import BulkDecisionForm, DecisionForm, QueueFilterForm
from antifraud.models import RiskAssessment
from antifraud.services import decisions
from antifraud.services.decisions import Action
from prm.access import can, get_in_tenant_or_404, staff_required
from prm.permissions import Perm
from prm.post_only import post_only
from prm.redirects import next_or


@staff_required(Perm.ANTIFRAUD_VIEW)
def queue(request: HttpRequest) -> HttpResponse:
    filters = QueueFilterForm(request.GET)
    filters.is_valid()  # invalid filters are dropped (and shown), the rest still apply
    chosen = filters.filters()
    page = selectors.queue_page(**chosen)
    params = request.GET.copy()
    params.pop("after", None)
    can_decide = can(request, Perm.ANTIFRAUD_DECIDE)
    context = {
        "page": page,
        "filters": filters,
        "partner": chosen["partner"],
        "query": params.urlencode(),
        "state": chosen["state"],
        "can_decide": can_decide,
        "actions": DecisionForm.base_fields["action"].choices,  # type: ignore[attr-defined]
    }
    return render(request, "console/antifraud/queue.html", context)


@staff_required(Perm.ANTIFRAUD_DECIDE)
@post_only
def queue_bulk(request: HttpRequest) -> HttpResponse:
    """Decide the selected items, one transaction each (README "Review queue")."""
    form = BulkDecisionForm(request.POST)
    home = reverse("console:antifraud")
    back = next_or(request, home, within=home)
    if not form.is_valid():
        errors = [str(e) for field in form.errors.values() for e in field]
        messages.error(request, _("Nothing changed: %s") % " ".join(errors))
        return redirect(back)
    result = decisions.assessments_decide(
        assessments=form.cleaned_data["items"],
        action=Action(form.cleaned_data["action"]),
        actor=request.user,  # type: ignore[arg-type]
        reason=form.cleaned_data["reason"],
        request=request,
    )
    messages.success(
        request,
        ngettext("%(n)d item decided.", "%(n)d items decided.", result.done) % {"n": result.done},
    )
    if result.refused:
        messages.error(
            request,
            ngettext(
                "%(n)d item was skipped: %(why)s",
                "%(n)d items were skipped: %(why)s",
                len(result.refused),
            )
            % {"n": len(result.refused), "why": result.refused[0][1]},
        )
    return redirect(back)


def _assessment(assessment_id: int) -> RiskAssessment:
    return get_in_tenant_or_404(
        RiskAssessment.objects.select_related(
            "tenant", "lead__program", "conversion__program", "partner__user", "decided_by"
        ),
        pk=assessment_id,
    )


@staff_required(Perm.ANTIFRAUD_VIEW)
def item(request: HttpRequest, assessment_id: int) -> HttpResponse:
    return _item_page(request, _assessment(assessment_id), None)


def _item_page(
    request: HttpRequest, assessment: RiskAssessment, form: DecisionForm | None
) -> HttpResponse:
    can_decide = can(request, Perm.ANTIFRAUD_DECIDE)
    reasons = selectors.reasons_of(assessment)
    if can_decide and form is None:
        suggested = next((r.partner_reason for r in reasons if r.partner_reason), "")
        form = DecisionForm(initial={"reason": assessment.partner_reason or suggested})
    context = {
        "item": assessment,
        "reasons": reasons,
        "rewards": list(selectors.rewards_of(assessment)),
        "history": list(selectors.history_of(assessment)),
        "can_decide": can_decide and assessment.level in decisions.FLAGGED_LEVELS,
        "form": form,
        "show_money": can(request, Perm.MONEY_VIEW),
    }
    return render(request, "console/antifraud/item.html", context)


@staff_required(Perm.ANTIFRAUD_DECIDE)
@post_only
def item_decide(request: HttpRequest, assessment_id: int) -> HttpResponse:
    assessment = _assessment(assessment_id)
    form = DecisionForm(request.POST)
    if form.is_valid():
        action = Action(form.cleaned_data["action"])
        reason = form.cleaned_data["reason"]
        actor = request.user
        try:
            if action == Action.APPROVE:
                count = decisions.assessment_approve(
                    assessment=assessment,
                    actor=actor,  # type: ignore[arg-type]
                    note=reason,
                    request=request,
                )
            elif action == Action.ALLOW:
                count = decisions.assessment_allow(
                    assessment=assessment,
                    actor=actor,  # type: ignore[arg-type]
                    note=reason,
                    request=request,
                )
            else:
                count = decisions.assessment_reject(
                    assessment=assessment,
                    actor=actor,  # type: ignore[arg-type]
                    reason=reason,
                    request=request,
                )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if action == Action.REJECT:
                text = ngettext(
                    "Rejected: %(n)d reward rejected.", "Rejected: %(n)d rewards rejected.", count
                )
            else:
                text = ngettext(
                    "Approved: %(n)d reward released.", "Approved: %(n)d rewards released.", count
                )
            messages.success(request, text % {"n": count})
            return redirect("console:antifraud_item", assessment_id=assessment.pk)
    return _item_page(request, assessment, form)
