"""Console: exchange rates (by hand and CSV import) and payout methods."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods

from prm.access import can, get_in_tenant_or_404, staff_required
from prm.permissions import Perm
from prm.post_only import post_only
from rewards.forms_payouts import PayoutMethodForm, RateForm, RateImportForm
from rewards.models import ExchangeRate, PayoutMethod
from rewards.writes import RATE_FIELDS, method_save, rates_import, record_save

PAGE_SIZE = 50
RATES_CHANGED = gettext_lazy(
    "Rates changed meanwhile; nothing was saved. Check the list and try again."
)


# Exchange rates


@staff_required(Perm.MONEY_VIEW)
def rate_list(request: HttpRequest) -> HttpResponse:
    return _rates_page(request)


def _rates_page(request: HttpRequest, **forms: Any) -> HttpResponse:
    can_edit = can(request, Perm.MONEY_MANAGE)
    page = Paginator(ExchangeRate.objects.order_by("base", "quote", "-valid_from"), PAGE_SIZE)
    context = {
        "page": page.get_page(request.GET.get("page")),
        "can_edit": can_edit,
        "form": (forms.get("form") or RateForm()) if can_edit else None,
        "import_form": (forms.get("import_form") or RateImportForm()) if can_edit else None,
    }
    return render(request, "console/rewards/rates.html", context)


@staff_required(Perm.MONEY_MANAGE)
@post_only
def rate_create(request: HttpRequest) -> HttpResponse:
    form = RateForm(request.POST, instance=ExchangeRate(source="manual"))
    if not form.is_valid():
        return _rates_page(request, form=form)
    try:
        rate = record_save(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            obj=form.instance,
            fields=RATE_FIELDS,
            action="fx",
            request=request,
        )
    except IntegrityError:
        form.add_error(None, RATES_CHANGED)
        return _rates_page(request, form=form)
    messages.success(request, _("Rate added: %s") % rate)
    return redirect("console:rates")


@staff_required(Perm.MONEY_MANAGE)
@post_only
def rate_import(request: HttpRequest) -> HttpResponse:
    form = RateImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _rates_page(request, import_form=form)
    try:
        count = rates_import(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            rates=form.cleaned_data["file"],
            request=request,
        )
    except IntegrityError:
        form.add_error("file", RATES_CHANGED)
        return _rates_page(request, import_form=form)
    messages.success(
        request, ngettext("%(n)d rate imported.", "%(n)d rates imported.", count) % {"n": count}
    )
    return redirect("console:rates")


# Payout methods


@staff_required(Perm.MONEY_VIEW)
def method_list(request: HttpRequest) -> HttpResponse:
    context = {
        "methods": PayoutMethod.objects.order_by("-is_active", "name"),
        "can_edit": can(request, Perm.MONEY_MANAGE),
    }
    return render(request, "console/rewards/methods.html", context)


@require_http_methods(["GET", "POST"])
@staff_required(Perm.MONEY_MANAGE)
def method_create(request: HttpRequest) -> HttpResponse:
    return _method_form(request, None)


@require_http_methods(["GET", "POST"])
@staff_required(Perm.MONEY_MANAGE)
def method_edit(request: HttpRequest, method_id: str) -> HttpResponse:
    return _method_form(request, get_in_tenant_or_404(PayoutMethod, pk=method_id))


def _method_form(request: HttpRequest, method: PayoutMethod | None) -> HttpResponse:
    if request.method == "GET":
        tenant = request.tenant  # type: ignore[attr-defined]
        form = PayoutMethodForm(
            instance=method or PayoutMethod(), initial={"currency": tenant.default_currency}
        )
    else:
        instance = PayoutMethod.objects.get(pk=method.pk) if method else PayoutMethod()
        form = PayoutMethodForm(request.POST, instance=instance)
        if form.is_valid():
            saved = method_save(
                tenant=request.tenant,  # type: ignore[attr-defined]
                actor=request.user,  # type: ignore[arg-type]
                method=form.instance,
                secret=form.cleaned_data["provider_secret"],
                request=request,
            )
            messages.success(request, _("Payout method %s saved.") % saved.name)
            return redirect("console:payout_methods")
    context = {
        "form": form,
        "method": method,
        "has_secret": bool(method and method.provider_secret_encrypted),
    }
    return render(request, "console/rewards/method_form.html", context)


@staff_required(Perm.MONEY_MANAGE)
@post_only
def method_toggle(request: HttpRequest, method_id: str) -> HttpResponse:
    method = get_in_tenant_or_404(PayoutMethod, pk=method_id)
    method.is_active = not method.is_active
    method_save(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        method=method,
        request=request,
    )
    if method.is_active:
        messages.success(request, _("%s is offered to partners again.") % method.name)
    else:
        messages.success(request, _("%s is no longer offered to partners.") % method.name)
    return redirect("console:payout_methods")
