"""Console: the payout queue (approve, reject, mark paid), batches (the mass-payment file,
sending through PayPal) and the manual-approval threshold."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from prm.access import can, get_in_tenant_or_404, staff_required
from prm.models import Tenant
from prm.pagination import page_of
from prm.permissions import Perm
from prm.post_only import post_only
from prm.services.tenants import tenant_update_settings
from rewards import batches, selectors
from rewards.forms_payouts import BatchCreateForm, ManualApprovalForm, ReasonForm
from rewards.models import PayoutBatch, PayoutMethod, PayoutRequest
from rewards.services import payouts

PAGE_SIZE = 50
TAB_LABELS = {
    "requested": gettext_lazy("Requested"),
    "approved": gettext_lazy("Approved"),
    "paid": gettext_lazy("Paid"),
    "rejected": gettext_lazy("Rejected or failed"),
}
EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@staff_required(Perm.MONEY_VIEW)
def payout_list(request: HttpRequest) -> HttpResponse:
    return _queue_page(request, None)


def payout_tab(params: QueryDict) -> str:
    """The payout queue's tab for its query string (the queue and its export)."""
    tab = params.get("tab", "requested")
    return tab if tab in selectors.PAYOUT_TABS else "requested"


def _queue_page(request: HttpRequest, settings_form: ManualApprovalForm | None) -> HttpResponse:
    tab = payout_tab(request.GET)
    counts = selectors.payout_tab_counts()
    page = page_of(selectors.payouts_in_tab(tab), request, PAGE_SIZE)
    can_pay = can(request, Perm.MONEY_MANAGE)
    tenant = request.tenant  # type: ignore[attr-defined]
    context = {
        "tab": tab,
        "tabs": [(name, TAB_LABELS[name], counts[name]) for name in selectors.PAYOUT_TABS],
        "page": page,
        "query": f"tab={tab}",
        "can_pay": can_pay,
        "ready": selectors.methods_ready_to_batch() if tab == "approved" else [],
        "batches": selectors.recent_batches(),
        "threshold": tenant.manual_approval_above,
        "settings_form": (settings_form or ManualApprovalForm(instance=tenant))
        if can_pay
        else None,
    }
    return render(request, "console/rewards/payouts.html", context)


def _back(request: HttpRequest, tab: str = "") -> HttpResponse:
    """To the queue's tab the form was on."""
    tab = tab or request.POST.get("tab", "")
    suffix = f"?tab={tab}" if tab in selectors.PAYOUT_TABS else ""
    return redirect(reverse("console:payouts") + suffix)


def _payout(payout_id: str) -> PayoutRequest:
    return get_in_tenant_or_404(
        PayoutRequest.objects.select_related("partner__user", "method", "tenant"), pk=payout_id
    )


@staff_required(Perm.MONEY_MANAGE)
@post_only
def payout_approve(request: HttpRequest, payout_id: str) -> HttpResponse:
    payout = _payout(payout_id)
    try:
        payouts.payout_approve(payout=payout, actor=request.user)  # type: ignore[arg-type]
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Payout of %s approved.") % payout.partner)
    return _back(request)


@staff_required(Perm.MONEY_MANAGE)
@post_only
def payout_reject(request: HttpRequest, payout_id: str) -> HttpResponse:
    payout = _payout(payout_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason the partner will see."))
        return _back(request)
    try:
        payouts.payout_reject(
            payout=payout,
            actor=request.user,  # type: ignore[arg-type]
            reason=form.cleaned_data["reason"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Payout of %s rejected; the money is back in their balance.") % payout.partner,
        )
    return _back(request)


@staff_required(Perm.MONEY_MANAGE)
@post_only
def payout_paid(request: HttpRequest, payout_id: str) -> HttpResponse:
    payout = _payout(payout_id)
    try:
        payouts.payout_mark_paid(payout=payout, actor=request.user)  # type: ignore[arg-type]
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Payout of %s marked paid.") % payout.partner)
    return _back(request)


@staff_required(Perm.MONEY_MANAGE)
@post_only
def payout_settings(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    # Bound to a copy: a failed form must not leave the request's tenant half-edited.
    form = ManualApprovalForm(request.POST, instance=Tenant.objects.get(pk=tenant.pk))
    if not form.is_valid():
        return _queue_page(request, form)
    tenant_update_settings(
        tenant=tenant,
        actor=request.user,  # type: ignore[arg-type]
        changes=form.cleaned_data,
        request=request,
    )
    messages.success(request, _("Approval settings saved."))
    return redirect("console:payouts")


# Batches


@staff_required(Perm.MONEY_MANAGE)
@post_only
def batch_create(request: HttpRequest) -> HttpResponse:
    form = BatchCreateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a payout method."))
        return _back(request, "approved")
    method: PayoutMethod = form.cleaned_data["method"]
    batch = payouts.batch_create(
        tenant=request.tenant,  # type: ignore[attr-defined]
        method=method,
        actor=request.user,  # type: ignore[arg-type]
    )
    if batch is None:
        messages.error(request, _("%s has no approved payouts to batch.") % method.name)
        return _back(request, "approved")
    messages.success(request, _("Batch created for %s.") % method.name)
    return redirect("console:payout_batch", batch_id=batch.pk)


def _batch(batch_id: str) -> PayoutBatch:
    return get_in_tenant_or_404(
        PayoutBatch.objects.select_related("method", "created_by"), pk=batch_id
    )


@staff_required(Perm.MONEY_VIEW)
def batch_detail(request: HttpRequest, batch_id: str) -> HttpResponse:
    batch = _batch(batch_id)
    rows = list(batches.batch_payouts(batch))
    context = {
        "batch": batch,
        "payouts": rows,
        "total": sum((p.amount for p in rows), start=0),
        "approved": sum(1 for p in rows if p.status == PayoutRequest.Status.APPROVED),
        "can_pay": can(request, Perm.MONEY_MANAGE),
        "through_provider": batch.method.provider == PayoutMethod.Provider.PAYPAL,
        "full_details": batches.full_details_in_export(batch.method),
    }
    return render(request, "console/rewards/batch.html", context)


@staff_required(Perm.MONEY_MANAGE)
def batch_export(request: HttpRequest, batch_id: str, fmt: str) -> HttpResponse:
    if fmt not in EXPORT_TYPES:
        raise Http404("unknown export format")
    batch = _batch(batch_id)
    try:
        content = batches.batch_export(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            batch=batch,
            fmt=fmt,
            request=request,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("console:payout_batch", batch_id=batch.pk)
    response = HttpResponse(content, content_type=EXPORT_TYPES[fmt])
    name = f"payouts-{batch.created_at:%Y-%m-%d}-{str(batch.pk)[:8]}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"  # it may hold full account numbers
    return response


@staff_required(Perm.MONEY_MANAGE)
@post_only
def batch_send(request: HttpRequest, batch_id: str) -> HttpResponse:
    batch = _batch(batch_id)
    outcome = batches.batch_send(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        batch=batch,
    )
    if outcome.paid:
        messages.success(
            request,
            ngettext("%(n)d payout paid.", "%(n)d payouts paid.", outcome.paid)
            % {"n": outcome.paid},
        )
    if outcome.failed:
        messages.error(
            request,
            ngettext(
                "%(n)d payout failed at the provider; the money is back in the balance.",
                "%(n)d payouts failed at the provider; the money is back in the balances.",
                outcome.failed,
            )
            % {"n": outcome.failed},
        )
    if outcome.pending:
        messages.info(
            request,
            ngettext(
                "%(n)d payout is still being processed by the provider: check again later.",
                "%(n)d payouts are still being processed by the provider: check again later.",
                outcome.pending,
            )
            % {"n": outcome.pending},
        )
    if outcome.error:
        if outcome.retryable:
            message = _(
                "The provider could not be reached or was busy; the payouts stay approved. "
                "Try again in a few minutes. (%s)"
            )
        else:
            message = _("The provider refused the batch; the payouts stay approved. (%s)")
        messages.error(request, message % outcome.error)
    return redirect("console:payout_batch", batch_id=batch.pk)


@staff_required(Perm.MONEY_MANAGE)
@post_only
def batch_paid(request: HttpRequest, batch_id: str) -> HttpResponse:
    batch = _batch(batch_id)
    count = batches.batch_mark_paid(batch=batch, actor=request.user)  # type: ignore[arg-type]
    messages.success(
        request,
        ngettext("%(n)d payout marked paid.", "%(n)d payouts marked paid.", count) % {"n": count},
    )
    return redirect("console:payout_batch", batch_id=batch.pk)
