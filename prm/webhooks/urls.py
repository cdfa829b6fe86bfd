"""Console URLs (wired into prm.urls_tenant's console namespace) and API URLs of
webhook endpoints."""

from __future__ import annotations

from django.urls import URLPattern, path

from prm.webhooks import api, views

console_patterns: list[URLPattern] = [
    path("webhooks/", views.endpoint_list, name="webhooks"),
    path("webhooks/new/", views.endpoint_create, name="webhook_create"),
    path("webhooks/<uuid:endpoint_id>/", views.endpoint_detail, name="webhook_detail"),
    path("webhooks/<uuid:endpoint_id>/edit/", views.endpoint_edit, name="webhook_edit"),
    path("webhooks/<uuid:endpoint_id>/delete/", views.endpoint_delete, name="webhook_delete"),
    path("webhooks/<uuid:endpoint_id>/rotate/", views.endpoint_rotate, name="webhook_rotate"),
    path("webhooks/<uuid:endpoint_id>/test/", views.endpoint_test, name="webhook_test"),
    path(
        "webhooks/deliveries/<uuid:delivery_id>/resend/",
        views.delivery_resend,
        name="webhook_resend",
    ),
]

api_patterns: list[URLPattern] = [
    path("api/v1/webhooks", api.WebhookEndpointList.as_view(), name="api_webhooks"),
    path(
        "api/v1/webhooks/<uuid:endpoint_id>",
        api.WebhookEndpointDetail.as_view(),
        name="api_webhook",
    ),
    path(
        "api/v1/webhooks/<uuid:endpoint_id>/rotate-secret",
        api.WebhookSecretRotate.as_view(),
        name="api_webhook_rotate",
    ),
    path(
        "api/v1/webhooks/<uuid:endpoint_id>/deliveries",
        api.WebhookDeliveryList.as_view(),
        name="api_webhook_deliveries",
    ),
    path(
        "api/v1/webhooks/deliveries/<uuid:delivery_id>/resend",
        api.WebhookDeliveryResend.as_view(),
        name="api_webhook_resend",
    ),
]
