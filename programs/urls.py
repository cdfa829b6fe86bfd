"""Tracking and API URLs of a tenant host (console and cabinet pages: programs.urls_pages)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from programs import api
from programs.views import tracking

tracking_patterns = [
    path("t/<str:key>.js", tracking.snippet, name="snippet"),
    path("t/l", tracking.lead, name="track_lead"),
    path("r/<str:code>", tracking.referral_redirect, name="referral_redirect"),
]

api_patterns = [
    path("api/v1/leads", api.leads_create, name="api_leads"),
    path("api/v1/leads/<uuid:lead_id>", api.lead_detail, name="api_lead"),
    path("api/v1/conversions", api.conversions_create, name="api_conversions"),
    path("api/v1/conversions/<str:order_id>", api.conversion_detail, name="api_conversion"),
    path("api/v1/conversions/<str:order_id>/refunds", api.refunds_create, name="api_refunds"),
    path(
        "api/v1/schema/",
        SpectacularAPIView.as_view(
            urlconf="prm.urls_tenant", authentication_classes=[], permission_classes=[]
        ),
        name="api_schema",
    ),
]


def bare_204(request: HttpRequest) -> HttpResponse:
    """The benchmark's ceiling: the cheapest view Django serves (PRM_BENCH=1 only)."""
    return HttpResponse(status=204)


if settings.PRM_BENCH:
    tracking_patterns.append(path("bench/204", bare_204))
