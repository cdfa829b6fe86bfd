from __future__ import annotations

from django.urls import path

from prm.notifications import views

console_patterns = [
    path("notifications/", views.staff_preferences, name="my_notifications"),
    path("notifications/outbox/", views.outbox, name="notification_outbox"),
]
cabinet_patterns = [
    path("account/notifications/", views.partner_preferences, name="notifications"),
]
public_patterns = [
    path(
        "notifications/unsubscribe/<str:token>/",
        views.unsubscribe,
        name="notification_unsubscribe",
    ),
]
