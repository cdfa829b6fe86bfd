"""Console: the reward list with its bulk decisions, a partner's ledger with manual
corrections, and the ledger check."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from partners.models import PartnerProfile
from prm.access import can, get_in_tenant_or_404, staff_required
from prm.permissions import Perm
from rewards import selectors
from rewards.forms import LedgerAdjustForm, RewardBulkForm, RewardFilterForm
from rewards.services import approvals, ledger
from rewards.services.verify import verify

PAGE_SIZE = 50


@staff_required(Perm.MONEY_VIEW)
def reward_list(request: HttpRequest) -> HttpResponse:
    filters = RewardFilterForm(request.GET)
    filters.is_valid()  # invalid filters are dropped (and shown), the rest still apply
    rewards = selectors.rewards_filtered(**filters.cleaned_data)
    page = Paginator(rewards, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    can_decide = can(request, Perm.MONEY_MANAGE)
    context = {
        "page": page,
        "filters": filters,
        "query": params.urlencode(),
        "can_decide": can_decide,
        "bulk_form": RewardBulkForm() if can_decide else None,
    }
    return render(request, "console/rewards/list.html", context)


@require_POST
@staff_required(Perm.MONEY_MANAGE)
def rewards_bulk(request: HttpRequest) -> HttpResponse:
    """Approve, reject or hold the selected rewards, one by one (each its own transaction:
    a reward decided meanwhile is skipped, not a reason to undo the others)."""
    form = RewardBulkForm(request.POST)
    back = request.POST.get("next", "")
    if not back.startswith(reverse("console:rewards")):
        back = reverse("console:rewards")
    if not form.is_valid():
        errors = [str(e) for field in form.errors.values() for e in field]
        messages.error(request, _("Nothing changed: %s") % " ".join(errors))
        return redirect(back)
    action, reason = form.cleaned_data["action"], form.cleaned_data["reason"]
    done = skipped = 0
    for reward in form.cleaned_data["rewards"]:
        try:
            if action == "approve":
                approvals.reward_approve(reward=reward, actor=request.user, reason=reason)  # type: ignore[arg-type]
            elif action == "reject":
                approvals.reward_reject(reward=reward, actor=request.user, reason=reason)  # type: ignore[arg-type]
            else:
                before = reward.flagged
                reward = approvals.reward_hold(reward=reward, actor=request.user, reason=reason)  # type: ignore[arg-type]
                if before or not reward.flagged:
                    raise ValidationError(approvals.NOT_PENDING)
        except ValidationError:
            skipped += 1
        else:
            done += 1
    messages.success(
        request,
        {
            "approve": ngettext("%(n)d reward approved.", "%(n)d rewards approved.", done),
            "reject": ngettext("%(n)d reward rejected.", "%(n)d rewards rejected.", done),
            "hold": ngettext(
                "%(n)d reward held for review.", "%(n)d rewards held for review.", done
            ),
        }[action]
        % {"n": done},
    )
    if skipped:
        messages.error(
            request,
            ngettext(
                "%(n)d reward was skipped: it is no longer on hold.",
                "%(n)d rewards were skipped: they are no longer on hold.",
                skipped,
            )
            % {"n": skipped},
        )
    return redirect(back)


@staff_required(Perm.MONEY_VIEW)
def partner_ledger(request: HttpRequest, partner_id: str) -> HttpResponse:
    partner = get_in_tenant_or_404(PartnerProfile.objects.select_related("user"), pk=partner_id)
    return _ledger_page(request, partner, None)


def _ledger_page(
    request: HttpRequest, partner: PartnerProfile, form: LedgerAdjustForm | None
) -> HttpResponse:
    can_adjust = can(request, Perm.MONEY_MANAGE)
    if can_adjust and form is None:
        tenant = request.tenant  # type: ignore[attr-defined]
        form = LedgerAdjustForm(
            initial={"token": uuid.uuid4(), "currency": tenant.default_currency}
        )
    page = Paginator(selectors.ledger_entries(partner), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "partner": partner,
        "balances": list(ledger.balances(partner).values()),
        "page": page,
        "form": form if can_adjust else None,
    }
    return render(request, "console/rewards/ledger.html", context)


@require_POST
@staff_required(Perm.MONEY_MANAGE)
def partner_ledger_adjust(request: HttpRequest, partner_id: str) -> HttpResponse:
    partner = get_in_tenant_or_404(PartnerProfile.objects.select_related("user"), pk=partner_id)
    form = LedgerAdjustForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            approvals.ledger_adjust(
                tenant=request.tenant,  # type: ignore[attr-defined]
                partner=partner,
                currency=data["currency"],
                amount=data["amount"],
                kind=data["kind"],
                reason=data["reason"],
                actor=request.user,  # type: ignore[arg-type]
                # The form's token: a second submission of the same form posts nothing.
                key=f"manual:{data['token']}",
            )
        except ValidationError as exc:
            form.add_error("amount", exc)
        else:
            messages.success(request, _("The ledger entry was added."))
            return redirect("console:partner_ledger", partner_id=partner.pk)
    return _ledger_page(request, partner, form)


@staff_required(Perm.MONEY_MANAGE)
def ledger_verify(request: HttpRequest) -> HttpResponse:
    return render(request, "console/rewards/verify.html", {"problems": verify()})
