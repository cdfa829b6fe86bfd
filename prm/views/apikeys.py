"""Console: API keys of the server-to-server API."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from prm.access import get_in_tenant_or_404, staff_required
from prm.forms import ApiKeyForm
from prm.models import ApiKey
from prm.permissions import Perm
from prm.post_only import post_only
from prm.services import apikeys


def _page(
    request: HttpRequest, form: ApiKeyForm | None = None, created: tuple | None = None
) -> HttpResponse:
    context = {
        "keys": ApiKey.objects.select_related("created_by"),
        "form": form or ApiKeyForm(),
        "created": created[0] if created else None,
        "secret": created[1] if created else "",
    }
    response = render(request, "console/apikeys.html", context)
    if created:
        response["Cache-Control"] = "no-store"
    return response


@staff_required(Perm.SETTINGS_MANAGE)
def api_key_list(request: HttpRequest) -> HttpResponse:
    return _page(request)


@staff_required(Perm.SETTINGS_MANAGE)
@post_only
def api_key_create(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form)
    key, secret = apikeys.api_key_create(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        name=form.cleaned_data["name"],
        scopes=form.cleaned_data["scopes"],
        request=request,
    )
    # Rendered, not redirected: the secret exists only in this response (its hash is
    # what is stored), so it must not go through the session to a GET page.
    return _page(request, created=(key, secret))


@staff_required(Perm.SETTINGS_MANAGE)
@post_only
def api_key_revoke(request: HttpRequest, key_id: str) -> HttpResponse:
    key = get_in_tenant_or_404(ApiKey, pk=key_id)
    if apikeys.api_key_revoke(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        key=key,
        request=request,
    ):
        messages.success(request, _("API key %s revoked.") % key.name)
    else:
        messages.info(request, _("API key %s was already revoked.") % key.name)
    return redirect("console:api_keys")
