"""Cabinet money pages: earnings, payout details, withdrawals, monthly statements."""

from __future__ import annotations

import functools
import re
import secrets
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from partners.access import partner_required
from partners.models import PartnerProfile
from partners.training.gates import missing_for_payout
from prm.access import get_in_tenant_or_404
from prm.audit import audit_record
from prm.crypto import encrypt
from prm.models import Tenant, User
from prm.pagination import page_of
from prm.post_only import post_only
from programs.models import Enrollment
from programs.views.cabinet import partner_page
from rewards import statements
from rewards.cabinet_forms import (
    TOKEN_PATTERN,
    PayoutDetailsForm,
    WithdrawConfirmForm,
    WithdrawForm,
)
from rewards.models import LedgerEntry, PayoutDetails, PayoutMethod, PayoutRequest, Reward
from rewards.services.accrual import referred_reward
from rewards.services.ledger import ZERO, balances
from rewards.services.payouts import (
    BELOW_MINIMUM,
    METHOD_INACTIVE,
    NO_DETAILS,
    OVER_BALANCE,
    payout_request,
)
from rewards.tabular import csv_lines, xlsx_bytes

PAGE_SIZE = 50
LEDGER_ROWS = 100
# A confirmation token is spent once; kept long enough to catch a resent form.
TOKEN_TTL = 24 * 3600
TOKEN_RE = re.compile(TOKEN_PATTERN)
SERVICE_ERROR_FIELDS = [
    (NO_DETAILS, "method"),
    (METHOD_INACTIVE, "method"),
    (BELOW_MINIMUM, "amount"),
    (OVER_BALANCE, "amount"),
]


def _active_only(view: Any) -> Any:
    """Money pages are for active partners; pending and blocked ones see why not."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        partner = request.partner  # type: ignore[attr-defined]
        if partner.status != PartnerProfile.Status.ACTIVE:
            return render(
                request,
                "cabinet/money/inactive.html",
                {"partner": partner},
                status=200 if request.method == "GET" else 403,
            )
        return view(request, *args, **kwargs)

    return wrapper


def money_page(view: Any) -> Any:
    """A page of the cabinet: users without a partner profile here are sent to join."""
    return partner_required(_active_only(view))


def money_object_page(view: Any) -> Any:
    """A URL naming an object: signed-in users without a partner profile get a 404."""
    return partner_page(_active_only(view))


# /earnings/


@require_GET
@money_page
def earnings(request: HttpRequest) -> HttpResponse:
    partner: PartnerProfile = request.partner  # type: ignore[attr-defined]
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    rewards = Reward.objects.filter(partner=partner).select_related("program")
    page = page_of(rewards.order_by("-created_at", "-pk"), request, PAGE_SIZE)
    for reward in page:
        reward.level_text = statements.level_label(reward.level)  # type: ignore[attr-defined]
    entries = (
        LedgerEntry.objects.filter(partner=partner)
        .select_related("reward__program", "payout__method")
        .order_by("-created_at", "-id")[:LEDGER_ROWS]
    )
    context = {
        "partner": partner,
        "balances": list(balances(partner).values()),
        "page": page,
        "entries": statements.describe_entries(entries),
        "ledger_rows": LEDGER_ROWS,
        "recruit_link": tenant.base_url + reverse("partners:recruit", args=[partner.recruit_code]),
        "recruits_count": PartnerProfile.objects.filter(recruited_by=partner).count(),
        "offers": _referred_offers(partner),
    }
    return render(request, "cabinet/money/earnings.html", context)


def _referred_offers(partner: PartnerProfile) -> list[dict[str, Any]]:
    """Per active enrollment: what the customers the partner refers get."""
    enrollments = (
        Enrollment.objects.filter(partner=partner, status=Enrollment.Status.ACTIVE)
        .select_related("program")
        .order_by("program__name")
    )
    return [
        {
            "program": e.program,
            "text": statements.referred_offer_text(
                referred_reward(e.program, partner), e.program.currency
            ),
        }
        for e in enrollments
    ]


# /payouts/


@require_GET
@money_page
def payouts(request: HttpRequest) -> HttpResponse:
    return _payouts_page(request)


def _methods() -> Any:
    return PayoutMethod.objects.filter(is_active=True).order_by("name")


def _withdraw_form(request: HttpRequest, form_class: type[WithdrawForm], **kwargs: Any) -> Any:
    partner = request.partner  # type: ignore[attr-defined]
    return form_class(
        methods=_methods(),
        available={c: b.available for c, b in balances(partner).items()},
        with_details=set(
            PayoutDetails.objects.filter(partner=partner).values_list("method_id", flat=True)
        ),
        **kwargs,
    )


def _payouts_page(
    request: HttpRequest,
    *,
    details_form: PayoutDetailsForm | None = None,
    withdraw_form: WithdrawForm | None = None,
) -> HttpResponse:
    partner: PartnerProfile = request.partner  # type: ignore[attr-defined]
    methods = list(_methods())
    saved = {d.method_id: d for d in PayoutDetails.objects.filter(partner=partner)}
    money = balances(partner)
    available = {c: b.available for c, b in money.items()}
    rows = [
        {
            "method": method,
            "details": saved.get(method.pk),
            "form": details_form
            if details_form is not None and details_form.method.pk == method.pk
            else PayoutDetailsForm(method=method),
        }
        for method in methods
    ]
    if withdraw_form is None:
        # The first method with details, and all of its currency's available money.
        first = next((m for m in methods if m.pk in saved), methods[0] if methods else None)
        initial: dict[str, Any] = {}
        if first is not None:
            initial["method"] = first.pk
            if available.get(first.currency, ZERO) > 0:
                initial["amount"] = available[first.currency]
        withdraw_form = WithdrawForm(
            methods=_methods(), available=available, with_details=set(saved), initial=initial
        )
    history = PayoutRequest.objects.filter(partner=partner).select_related("method")
    context = {
        "partner": partner,
        "balances": list(money.values()),
        "rows": rows,
        "withdraw_form": withdraw_form,
        "page": page_of(history.order_by("-created_at", "-pk"), request, PAGE_SIZE),
        "months": statements.statement_months(partner),
        # Said before the partner tries: payout_request refuses while these are not passed.
        "courses_first": missing_for_payout(partner),
    }
    return render(request, "cabinet/money/payouts.html", context)


@money_object_page
@post_only
def payout_details_save(request: HttpRequest, method_id: str) -> HttpResponse:
    method = get_in_tenant_or_404(_methods(), pk=method_id)
    form = PayoutDetailsForm(request.POST, method=method)
    if not form.is_valid():
        return _payouts_page(request, details_form=form)
    payout_details_set(
        tenant=request.tenant,  # type: ignore[attr-defined]
        partner=request.partner,  # type: ignore[attr-defined]
        method=method,
        account=form.cleaned_data["account"],
        masked=form.masked,
        holder=form.cleaned_data.get("holder", ""),
        actor=request.user,  # type: ignore[arg-type]
        request=request,
    )
    messages.success(request, _("Payout details for %(method)s saved.") % {"method": method.name})
    return redirect("partners:payouts")


def payout_details_set(
    *,
    tenant: Tenant,
    partner: PartnerProfile,
    method: PayoutMethod,
    account: str,
    masked: str,
    holder: str,
    actor: User,
    request: HttpRequest | None = None,
) -> PayoutDetails:
    """Add or replace the partner's account for ``method``: stored encrypted, shown
    masked. Audited, because a replaced account redirects the partner's money.

    (A service; it lives here because rewards.services belongs to the money engine.)
    """
    with transaction.atomic():
        before = PayoutDetails.objects.filter(partner=partner, method=method).first()
        details, _created = PayoutDetails.objects.update_or_create(
            partner=partner,
            method=method,
            defaults={
                "tenant": tenant,
                "encrypted": encrypt(account),
                "masked": masked,
                "holder": holder,
            },
        )
        from antifraud.services.fingerprints import record_payout

        record_payout(partner, method_kind=method.kind, account=account)
        audit_record(
            tenant=tenant,
            actor=actor,
            action="payout_details.set",
            obj=details,
            before={"masked": before.masked} if before else None,
            after={"masked": masked, "method": method.name},
            request=request,
        )
    return details


@money_page
@post_only
def withdraw(request: HttpRequest) -> HttpResponse:
    """Step one: check the amount and show what the partner will receive."""
    form = _withdraw_form(request, WithdrawForm, data=request.POST)
    if not form.is_valid():
        return _payouts_page(request, withdraw_form=form)
    method: PayoutMethod = form.cleaned_data["method"]
    amount: Decimal = form.cleaned_data["amount"]
    fee = method.fee_for(amount)
    context = {
        "method": method,
        "amount": amount,
        "fee": fee,
        "net": amount - fee,
        "details": PayoutDetails.objects.filter(
            partner=request.partner,  # type: ignore[attr-defined]
            method=method,
        ).first(),
        "token": secrets.token_urlsafe(24),
    }
    return render(request, "cabinet/money/confirm.html", context)


@money_page
@post_only
def withdraw_confirm(request: HttpRequest) -> HttpResponse:
    """Step two: request the payout, once per confirmation token."""
    partner: PartnerProfile = request.partner  # type: ignore[attr-defined]
    form = _withdraw_form(request, WithdrawConfirmForm, data=request.POST)
    # The token first: a resent form must say so, not that the balance is now too low.
    # cache.add is atomic: of two identical submissions only the first gets through.
    token = request.POST.get("token", "")
    if not TOKEN_RE.fullmatch(token) or not cache.add(
        f"payout-confirm:{partner.pk}:{token}", 1, TOKEN_TTL
    ):
        messages.info(request, _("This withdrawal was already requested."))
        return redirect("partners:payouts")
    if not form.is_valid():
        return _payouts_page(
            request, withdraw_form=_withdraw_form(request, WithdrawForm, data=request.POST)
        )
    method: PayoutMethod = form.cleaned_data["method"]
    amount: Decimal = form.cleaned_data["amount"]
    try:
        payout = payout_request(
            tenant=request.tenant,  # type: ignore[attr-defined]
            partner=partner,
            method=method,
            amount=amount,
        )
    except ValidationError as exc:
        shown = _withdraw_form(request, WithdrawForm, data=request.POST)
        shown.is_valid()
        message = getattr(exc, "message", None)
        field = next((f for m, f in SERVICE_ERROR_FIELDS if message is m), None)
        if not shown.has_error(field or "__all__"):
            shown.add_error(field, exc)
        return _payouts_page(request, withdraw_form=shown)
    messages.success(
        request,
        _("Payout of %(amount)s %(currency)s requested. You will see here when it is paid.")
        % {"amount": payout.amount, "currency": payout.currency},
    )
    return redirect("partners:payouts")


# /payouts/statement.pdf?month=YYYY-MM


@require_GET
@money_page
def statement_pdf(request: HttpRequest) -> HttpResponse:
    month = statements.parse_month(request.GET.get("month", ""))
    if month is None:
        raise Http404("no such month")
    pdf = statements.statement_pdf_cached(request.partner, month)  # type: ignore[attr-defined]
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="statement-{month.param}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


# /payouts/statement.csv|xlsx?month=YYYY-MM: every movement of the month


@require_GET
@money_page
def statement_detail(request: HttpRequest, fmt: str) -> HttpResponse | StreamingHttpResponse:
    month = statements.parse_month(request.GET.get("month", ""))
    if month is None or fmt not in ("csv", "xlsx"):
        raise Http404("no such month or format")
    partner = request.partner  # type: ignore[attr-defined]
    header = [str(column) for column in statements.DETAIL_COLUMNS]
    rows = statements.detail_rows(partner, month)
    name = f"statement-{month.param}.{fmt}"
    response: HttpResponse | StreamingHttpResponse
    if fmt == "csv":
        response = StreamingHttpResponse(
            csv_lines(header, rows), content_type="text/csv; charset=utf-8"
        )
    else:
        response = HttpResponse(
            xlsx_bytes(header, rows, title=month.param),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response
