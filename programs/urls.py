"""Tracking and API URLs of a tenant host (console and cabinet pages: programs.urls_pages)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView

from partners import api as partner_api
from prm.api_docs import ApiNotFound, api_docs
from programs import api
from programs.views import recruit, tracking
from rewards import api as rewards_api

tracking_patterns = [
    # Before the snippet's own pattern, which would take "recruit" for a key.
    path("t/recruit.js", recruit.widget_source, name="recruit_widget"),
    path("t/<str:key>.js", tracking.snippet, name="snippet"),
    path("t/<str:key>/recruit", recruit.recruit, name="recruit_api"),
    path("t/l", tracking.lead, name="track_lead"),
    path("r/<str:code>", tracking.referral_redirect, name="referral_redirect"),
]

api_patterns = [
    path("api/v1/leads", api.LeadsView.as_view(), name="api_leads"),
    path("api/v1/leads/<uuid:lead_id>", api.LeadView.as_view(), name="api_lead"),
    path("api/v1/conversions", api.ConversionsView.as_view(), name="api_conversions"),
    path(
        "api/v1/conversions/<str:order_id>",
        api.ConversionView.as_view(),
        name="api_conversion",
    ),
    path(
        "api/v1/conversions/<str:order_id>/refunds",
        api.RefundsView.as_view(),
        name="api_refunds",
    ),
    path("api/v1/programs", api.ProgramsView.as_view(), name="api_programs"),
    path("api/v1/promo-codes", api.PromoCodesView.as_view(), name="api_promo_codes"),
    path("api/v1/promo-codes/<str:code>", api.PromoCodeView.as_view(), name="api_promo_code"),
    *partner_api.api_patterns,
    *rewards_api.api_patterns,
    path(
        "api/v1/schema/",
        SpectacularAPIView.as_view(
            urlconf="prm.urls_tenant", authentication_classes=[], permission_classes=[]
        ),
        name="api_schema",
    ),
    path("api/docs/", api_docs, name="api_docs"),
    # Last: whatever else is under /api/ answers a JSON 404 (e.g. a malformed id).
    re_path(r"^api/", ApiNotFound.as_view(), name="api_not_found"),
]


def bare_204(request: HttpRequest) -> HttpResponse:
    """The benchmark's ceiling: the cheapest view Django serves (PRM_BENCH=1 only)."""
    return HttpResponse(status=204)


if settings.PRM_BENCH:
    tracking_patterns.append(path("bench/204", bare_204))
