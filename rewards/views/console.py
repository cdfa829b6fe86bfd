"""Console: the reward list with its bulk decisions, a partner's ledger with manual
corrections, and the ledger check."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from partners.models import PartnerProfile
from prm.access import can, get_in_tenant_or_404, staff_required
from prm.notifications.services import batching
from prm.pagination import page_of
from prm.permissions import Perm
from prm.post_only import post_only
from prm.redirects import next_or
from prm.tenancy import require_tenant
from prm.webhooks.events import batching as webhook_batching
from programs.analytics.drill import DrillForm
from rewards import selectors
from rewards.forms import LedgerAdjustForm, RewardBulkForm, RewardFilterForm
from rewards.models import CorrectionRequest, LedgerCheck, Reward
from rewards.services import approvals, corrections, ledger
from rewards.services.verify import ledger_check_start

PAGE_SIZE = 50


def filtered_rewards(params: QueryDict) -> tuple[RewardFilterForm, QuerySet[Reward]]:
    """The reward list's rows for its query string (the list and its export)."""
    filters = RewardFilterForm(params)
    filters.is_valid()  # invalid filters are dropped (and shown), the rest still apply
    rows = selectors.rewards_filtered(**filters.cleaned_data)
    drill = DrillForm(params, tenant=require_tenant())
    return filters, drill.apply_rewards(rows)  # a report's figure, down to its rows


@staff_required(Perm.MONEY_VIEW)
def reward_list(request: HttpRequest) -> HttpResponse:
    filters, rewards = filtered_rewards(request.GET)
    drill = DrillForm(request.GET, tenant=request.tenant)  # type: ignore[attr-defined]
    page = page_of(rewards, request, PAGE_SIZE)
    params = request.GET.copy()
    params.pop("page", None)
    can_decide = can(request, Perm.MONEY_MANAGE)
    context = {
        "page": page,
        "filters": filters,
        "drill": drill,
        "query": params.urlencode(),
        "can_decide": can_decide,
        "bulk_form": RewardBulkForm() if can_decide else None,
        "corrections_waiting": len(selectors.corrections_waiting()) if can_decide else 0,
    }
    return render(request, "console/rewards/list.html", context)


@staff_required(Perm.MONEY_MANAGE)
@post_only
def rewards_bulk(request: HttpRequest) -> HttpResponse:
    """Approve, reject or hold the selected rewards, one by one (each its own transaction:
    a reward decided meanwhile is skipped, not a reason to undo the others)."""
    form = RewardBulkForm(request.POST)
    back = next_or(request, reverse("console:rewards"), within=reverse("console:rewards"))
    if not form.is_valid():
        errors = [str(e) for field in form.errors.values() for e in field]
        messages.error(request, _("Nothing changed: %s") % " ".join(errors))
        return redirect(back)
    action, reason = form.cleaned_data["action"], form.cleaned_data["reason"]
    chosen = list(form.cleaned_data["rewards"])
    flagged = [r for r in chosen if r.flagged and r.status == r.Status.PENDING]
    if action == "approve" and flagged:
        answer = form.cleaned_data["flagged"]
        if not answer:
            # Held for review means someone wanted a closer look: ask before approving.
            context = {"rewards": chosen, "flagged": flagged, "reason": reason, "next": back}
            return render(request, "console/rewards/bulk_confirm.html", context)
        if answer == "skip":
            chosen = [r for r in chosen if r not in flagged]
    done = skipped = 0
    # The partners get one e-mail each for the lot; webhooks one job for the lot.
    with batching(), webhook_batching():
        for reward in chosen:
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
    page = page_of(selectors.ledger_entries(partner), request, PAGE_SIZE)
    context = {
        "partner": partner,
        "balances": list(ledger.balances(partner).values()),
        "page": page,
        "form": form if can_adjust else None,
        "waiting": selectors.corrections_waiting(partner=partner),
    }
    return render(request, "console/rewards/ledger.html", context)


@staff_required(Perm.MONEY_MANAGE)
@post_only
def partner_ledger_adjust(request: HttpRequest, partner_id: str) -> HttpResponse:
    partner = get_in_tenant_or_404(PartnerProfile.objects.select_related("user"), pk=partner_id)
    tenant = request.tenant  # type: ignore[attr-defined]
    form = LedgerAdjustForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        amount = corrections.signed_amount(data["kind"], data["amount"])
        if corrections.needs_confirmation(tenant, amount) and not data["confirmed"]:
            before = ledger.balance(partner, data["currency"]).available
            context = {
                "partner": partner,
                "form": form,
                "amount": amount,
                "currency": data["currency"],
                "before": before,
                "after": before + amount,
                "second_approval": corrections.needs_second_approval(tenant, amount),
            }
            return render(request, "console/rewards/ledger_confirm.html", context)
        try:
            result = corrections.correction_submit(
                tenant=tenant,
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
            if isinstance(result, CorrectionRequest):
                messages.success(
                    request,
                    _("The correction waits for another staff member with money rights."),
                )
            else:
                messages.success(request, _("The ledger entry was added."))
            return redirect("console:partner_ledger", partner_id=partner.pk)
    return _ledger_page(request, partner, form)


@staff_required(Perm.MONEY_VIEW)
def correction_list(request: HttpRequest) -> HttpResponse:
    """Corrections waiting for a second person, then the recently decided ones."""
    waiting = selectors.corrections_waiting()
    decided = page_of(selectors.corrections_decided(), request, PAGE_SIZE)
    context = {
        "waiting": waiting,
        "page": decided,
        "can_decide": can(request, Perm.MONEY_MANAGE),
    }
    return render(request, "console/rewards/corrections.html", context)


@staff_required(Perm.MONEY_MANAGE)
@post_only
def correction_decide(request: HttpRequest, correction_id: str, decision: str) -> HttpResponse:
    correction = get_in_tenant_or_404(
        CorrectionRequest.objects.select_related("partner", "requested_by", "tenant"),
        pk=correction_id,
    )
    try:
        if decision == "approve":
            corrections.correction_approve(request=correction, actor=request.user)  # type: ignore[arg-type]
            messages.success(request, _("The correction was approved and posted."))
        else:
            corrections.correction_reject(
                request=correction,
                actor=request.user,  # type: ignore[arg-type]
                note=request.POST.get("note", ""),
            )
            messages.success(request, _("The correction was turned down; nothing was posted."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("console:corrections")


@staff_required(Perm.MONEY_MANAGE)
def ledger_verify(request: HttpRequest) -> HttpResponse:
    """The last ledger check (the check itself runs as a job: it reads the whole
    ledger); while one runs, the page refreshes itself to show its progress."""
    checks = list(LedgerCheck.objects.select_related("requested_by")[:10])
    latest = checks[0] if checks else None
    context = {
        "check": latest,
        "history": checks[1:],
        "running": latest is not None
        and latest.status in (LedgerCheck.Status.QUEUED, LedgerCheck.Status.RUNNING),
    }
    return render(request, "console/rewards/verify.html", context)


@staff_required(Perm.MONEY_MANAGE)
@post_only
def ledger_verify_run(request: HttpRequest) -> HttpResponse:
    ledger_check_start(tenant=request.tenant, actor=request.user)  # type: ignore[attr-defined]
    messages.success(request, _("The ledger check has started."))
    return redirect("console:rewards_verify")
