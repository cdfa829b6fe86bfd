"""Console: antifraud settings (thresholds, cap, per-signal tuning) and block lists."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from antifraud.config import settings_for
from antifraud.forms_blocklist import ALREADY, BlockEntryForm, BlockFilterForm
from antifraud.forms_settings import RescoreForm, RiskSettingsForm
from antifraud.models import BlockEntry
from antifraud.services.blocklist import block_add, block_remove
from antifraud.services.rescore import rescore_start
from antifraud.services.tuning import risk_settings_update
from partners.models import PartnerProfile
from prm.access import get_in_tenant_or_404, staff_required
from prm.permissions import Perm
from prm.post_only import post_only

PAGE_SIZE = 50
PARTNER_MATCHES = 10


@require_http_methods(["GET", "POST"])
@staff_required(Perm.ANTIFRAUD_SETTINGS)
def settings_page(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    row = settings_for(tenant)
    form = RiskSettingsForm(request.POST or None, row=row)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        risk_settings_update(
            tenant=tenant,
            actor=request.user,  # type: ignore[arg-type]
            review_above=data["review_above"],
            reject_above=data["reject_above"],
            amount_cap=data["amount_cap"],
            amount_cap_currency=data["amount_cap_currency"],
            signals=form.overrides(),
            request=request,
        )
        messages.success(
            request,
            _("Saved. New leads and conversions are scored with these settings."),
        )
        return redirect("console:antifraud_settings")
    return _settings_page(request, form, RescoreForm(initial={"since": _last_month()}))


def _last_month() -> object:
    return timezone.localdate() - timedelta(days=30)


def _settings_page(
    request: HttpRequest, form: RiskSettingsForm, rescore: RescoreForm
) -> HttpResponse:
    return render(request, "console/antifraud/settings.html", {"form": form, "rescore": rescore})


@staff_required(Perm.ANTIFRAUD_SETTINGS)
@post_only
def rescore(request: HttpRequest) -> HttpResponse:
    """Rescore what was created since a day with the saved settings (a job)."""
    tenant = request.tenant  # type: ignore[attr-defined]
    form = RescoreForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, RiskSettingsForm(row=settings_for(tenant)), form)
    rescore_start(
        tenant=tenant,
        actor=request.user,  # type: ignore[arg-type]
        since=form.cleaned_data["since"],
        request=request,
    )
    messages.success(
        request,
        _("Rescoring started. Items that now reach the review score appear in the queue."),
    )
    return redirect("console:antifraud_settings")


@require_http_methods(["GET"])
@staff_required(Perm.BLOCKLIST_MANAGE)
def blocklist(request: HttpRequest) -> HttpResponse:
    return _blocklist_page(request, BlockEntryForm())


def _blocklist_page(request: HttpRequest, form: BlockEntryForm) -> HttpResponse:
    filters = BlockFilterForm(request.GET)
    filters.is_valid()
    data = getattr(filters, "cleaned_data", {})
    entries = BlockEntry.objects.select_related("created_by").order_by("-created_at", "-pk")
    if data.get("kind"):
        entries = entries.filter(kind=data["kind"])
    if data.get("q"):
        entries = entries.filter(Q(value__icontains=data["q"]) | Q(note__icontains=data["q"]))
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    partner_ids = [e.value for e in page.object_list if e.kind == BlockEntry.Kind.PARTNER]
    partners = {
        str(p.pk): p
        for p in PartnerProfile.objects.filter(pk__in=partner_ids).select_related("user")
    }
    for entry in page.object_list:
        entry.partner = partners.get(entry.value)  # type: ignore[attr-defined]
    matches: list[PartnerProfile] = []
    partner_q = data.get("partner_q", "")
    if partner_q:
        matches = list(
            PartnerProfile.objects.select_related("user")
            .filter(
                Q(user__email__icontains=partner_q)
                | Q(display_name__icontains=partner_q)
                | Q(company__icontains=partner_q)
            )
            .order_by("display_name", "user__email")[:PARTNER_MATCHES]
        )
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "page": page,
        "filters": filters,
        "form": form,
        "partner_q": partner_q,
        "matches": matches,
        "query": params.urlencode(),
        "kinds": BlockEntry.Kind.choices,
    }
    return render(request, "console/antifraud/blocklist.html", context)


@staff_required(Perm.BLOCKLIST_MANAGE)
@post_only
def blocklist_add(request: HttpRequest) -> HttpResponse:
    form = BlockEntryForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            block_add(
                tenant=request.tenant,  # type: ignore[attr-defined]
                actor=request.user,  # type: ignore[arg-type]
                kind=data["kind"],
                value=data["value"],
                note=data["note"],
                request=request,
            )
        except ValidationError:
            form.add_error("value", ALREADY)
        else:
            messages.success(request, _("Added to the block list."))
            return redirect("console:antifraud_blocklist")
    return _blocklist_page(request, form)


@staff_required(Perm.BLOCKLIST_MANAGE)
@post_only
def blocklist_remove(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = get_in_tenant_or_404(BlockEntry, pk=entry_id)
    block_remove(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        entry=entry,
        request=request,
    )
    messages.success(request, _("Removed from the block list."))
    return redirect("console:antifraud_blocklist")
