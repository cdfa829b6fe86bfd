"""Console: workspace settings, security (owner) and custom domains."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prm.access import can, get_in_tenant_or_404, staff_required
from prm.forms import DomainForm, SecurityForm, TenantSettingsForm
from prm.models import TenantDomain
from prm.permissions import Perm
from prm.post_only import post_only
from prm.services.errors import ServiceError
from prm.services.tenants import domain_add, domain_remove, tenant_update_settings


def _page(request: HttpRequest, **forms: object) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    context = {
        "form": forms.get("form") or TenantSettingsForm(instance=tenant),
        "security_form": forms.get("security_form") or SecurityForm(instance=tenant),
        "domain_form": forms.get("domain_form") or DomainForm(),
        "domains": TenantDomain.objects.all(),
        "can_security": can(request, Perm.SECURITY_MANAGE),
    }
    return render(request, "console/settings.html", context)


@require_http_methods(["GET", "POST"])
@staff_required(Perm.SETTINGS_MANAGE)
def settings_general(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    if request.method == "POST":
        # Bound to a copy: a failed form must not leave the request's tenant half-edited.
        form = TenantSettingsForm(request.POST, instance=type(tenant).objects.get(pk=tenant.pk))
        if form.is_valid():
            tenant_update_settings(
                tenant=tenant, actor=request.user, changes=form.cleaned_data, request=request
            )
            messages.success(request, _("Settings saved."))
            return redirect("console:settings")
        return _page(request, form=form)
    return _page(request)


@staff_required(Perm.SECURITY_MANAGE)
@post_only
def settings_security(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    form = SecurityForm(request.POST, instance=type(tenant).objects.get(pk=tenant.pk))
    if not form.is_valid():
        return _page(request, security_form=form)
    tenant_update_settings(
        tenant=tenant, actor=request.user, changes=form.cleaned_data, request=request
    )
    messages.success(request, _("Security settings saved."))
    return redirect("console:settings")


@staff_required(Perm.SETTINGS_MANAGE)
@post_only
def domain_create(request: HttpRequest) -> HttpResponse:
    form = DomainForm(request.POST)
    if form.is_valid():
        try:
            domain_add(
                tenant=request.tenant,  # type: ignore[attr-defined]
                actor=request.user,  # type: ignore[arg-type]
                domain=form.cleaned_data["domain"],
                request=request,
            )
        except ServiceError as exc:
            form.add_error("domain", exc.message)
        else:
            messages.success(
                request,
                _("Domain added. Point it at the platform; it goes live once verified."),
            )
            return redirect("console:settings")
    return _page(request, domain_form=form)


@staff_required(Perm.SETTINGS_MANAGE)
@post_only
def domain_delete(request: HttpRequest, domain_id: str) -> HttpResponse:
    domain = get_in_tenant_or_404(TenantDomain, pk=domain_id)
    domain_remove(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        domain=domain,
        request=request,
    )
    messages.success(request, _("Domain removed."))
    return redirect("console:settings")
