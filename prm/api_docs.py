"""The API's human docs at /api/docs/: Redoc over /api/v1/schema/, served from our own
static files (drf-spectacular-sidecar), no CDN, no inline script. And the JSON 404 of
unknown /api/ URLs."""

from __future__ import annotations

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.views import APIView


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


class ApiNotFound(APIView):
    """Any other URL under /api/: a JSON 404 in the API's error shape, whatever the
    method (not Django's HTML page), so clients parse every answer the same way."""

    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        super().initial(request, *args, **kwargs)
        raise NotFound("no such API URL")
