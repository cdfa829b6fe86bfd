"""Branding: the console's settings page, and the per-tenant stylesheet and images.

The public endpoints read only the branding of the host's tenant (request.tenant), so
another tenant's files are unreachable from here whatever the URL says. Images go out
with the content type we stored when we re-encoded them (never guessed), nosniff and a
sandboxing CSP, so even a file that slipped through could not run a script.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import http_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from prm.access import staff_required
from prm.branding import FONT_STACKS, branding_for, theme_css
from prm.branding_forms import BrandingForm
from prm.models import Branding
from prm.permissions import Perm
from prm.services.branding import FIELDS, branding_update

# A versioned URL (?v= the current version) never changes: cache it for a year. Any
# other (an old or missing version) is revalidated soon.
LONG = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"
ASSET_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


def _row(request: HttpRequest) -> Branding | None:
    return Branding.objects.filter(tenant=request.tenant).first()  # type: ignore[attr-defined]


@require_http_methods(["GET", "POST"])
@staff_required(Perm.SETTINGS_MANAGE)
def settings_branding(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    instance = _row(request) or Branding(tenant=tenant)
    if request.method == "POST":
        form = BrandingForm(request.POST, request.FILES, instance=instance)
        if form.is_valid():
            branding_update(
                tenant=tenant,
                actor=request.user,  # type: ignore[arg-type]
                changes={name: form.cleaned_data[name] for name in FIELDS},
                images=form.images,
                remove={n for n in ("logo", "favicon") if form.cleaned_data[f"remove_{n}"]},
                request=request,
            )
            messages.success(request, _("Branding saved."))
            for warning in form.warnings:
                messages.warning(request, warning)
            return redirect("console:settings_branding")
    else:
        form = BrandingForm(instance=instance)
    return render(
        request,
        "console/branding.html",
        {
            "form": form,
            "current": branding_for(tenant),
            "fonts": {str(font): stack for font, stack in FONT_STACKS.items()},
        },
    )


def _cache(response: HttpResponse, request: HttpRequest, version: int) -> HttpResponse:
    response["Cache-Control"] = LONG if request.GET.get("v") == str(version) else SHORT
    response["ETag"] = f'"b{version}"'
    return response


@require_safe
def branding_css(request: HttpRequest) -> HttpResponse:
    """The tenant's colours and font as CSS custom properties (app.css reads them)."""
    view = branding_for(request.tenant)  # type: ignore[attr-defined]
    etag = f'"b{view.version}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(theme_css(view), content_type="text/css; charset=utf-8")
    return _cache(response, request, view.version)


def _image(request: HttpRequest, name: str) -> HttpResponse:
    row = _row(request)
    field = getattr(row, name, None) if row else None
    kind = getattr(row, f"{name}_type", "") if row else ""
    if row is None or not field or kind not in ("image/png", "image/jpeg"):
        raise Http404
    etag = f'"b{row.version}"'
    if request.headers.get("If-None-Match") == etag:
        return _cache(HttpResponse(status=304), request, row.version)
    try:
        handle = field.storage.open(field.name, "rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    response = FileResponse(handle, content_type=kind)
    response["Content-Disposition"] = f'inline; filename="{name}.{kind.split("/")[1]}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = ASSET_CSP
    response["Last-Modified"] = http_date(row.updated_at.timestamp())
    return _cache(response, request, row.version)


@require_safe
def branding_logo(request: HttpRequest) -> HttpResponse:
    return _image(request, "logo")


@require_safe
def branding_favicon(request: HttpRequest) -> HttpResponse:
    return _image(request, "favicon")
