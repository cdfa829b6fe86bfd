"""The API's human docs at /api/docs/: Redoc over /api/v1/schema/, served from our own
static files (drf-spectacular-sidecar), no CDN, no inline script."""

from __future__ import annotations

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse


# Redoc renders with styled-components (it injects <style> elements) and runs its
# search index in a worker made from a blob: this page alone allows both.
@csp_update({"style-src": [UNSAFE_INLINE], "worker-src": ["blob:"]})
def api_docs(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "api/redoc.html",
        {
            "title": "PRM API",
            "schema_url": reverse("api_schema"),
            "redoc_standalone": static("drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"),
        },
    )
