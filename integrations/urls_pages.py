from __future__ import annotations

from django.urls import path

from integrations.views import console as c

P = "integrations/<str:provider>/"

console_patterns = [
    path("integrations/", c.integration_list, name="integrations"),
    path(P, c.integration_detail, name="integration_detail"),
    path(P + "connect/", c.integration_connect, name="integration_connect"),
    path(P + "oauth/start/", c.integration_oauth_start, name="integration_oauth_start"),
    path(P + "oauth/callback/", c.integration_oauth_callback, name="integration_oauth_callback"),
    path(P + "fields/", c.integration_fields, name="integration_fields"),
    path(P + "stages/", c.integration_stages, name="integration_stages"),
    path(P + "conflicts/", c.integration_conflicts, name="integration_conflicts"),
    path(
        P + "conflicts/<int:conflict_id>/resolve/",
        c.integration_conflict_resolve,
        name="integration_conflict_resolve",
    ),
    path(P + "dead-letters/", c.integration_dead_letters, name="integration_dead_letters"),
    path(
        P + "dead-letters/<int:row_id>/retry/",
        c.integration_dead_letter_retry,
        name="integration_dead_letter_retry",
    ),
    path(P + "do/<str:action>/", c.integration_action, name="integration_action"),
]
