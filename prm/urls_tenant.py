"""URLs of a tenant host: the cabinet at /, the console at /manage/."""

from __future__ import annotations

from django.urls import include, path

from antifraud import urls_pages as antifraud_pages
from integrations import urls_pages as crm_pages
from integrations.views.hooks import crm_event
from partners import urls_pages as partner_pages
from partners import views as partner_views
from partners.materials import urls as material_pages
from partners.news import urls_pages as news_pages
from partners.training import urls as training_pages
from prm.dataio import urls as dataio_pages
from prm.notifications import urls_pages as notification_pages
from prm.views import audit, branding, console, invitations, team, tenant_settings
from prm.webhooks import urls as webhook_urls
from programs import urls_pages as pages
from programs.urls import api_patterns, tracking_patterns
from rewards import urls_pages as money_pages

console_patterns = (
    [
        path("", console.dashboard, name="dashboard"),
        path("team/", team.team_list, name="team"),
        path("team/invite/", team.team_invite, name="team_invite"),
        path("team/<uuid:membership_id>/role/", team.member_role, name="member_role"),
        path("team/<uuid:membership_id>/remove/", team.member_remove, name="member_remove"),
        path(
            "team/invitations/<uuid:invitation_id>/revoke/",
            team.invitation_revoke,
            name="invitation_revoke",
        ),
        path(
            "team/invitations/<uuid:invitation_id>/resend/",
            team.invitation_resend,
            name="invitation_resend",
        ),
        path("partners/", partner_views.partner_list, name="partners"),
        path("partners/search/", partner_views.partner_search, name="partner_search"),
        *partner_pages.console_patterns,
        path(
            "partners/<uuid:partner_id>/status/",
            partner_views.partner_status,
            name="partner_status",
        ),
        path(
            "partners/<uuid:partner_id>/data.json",
            partner_views.partner_data,
            name="partner_data",
        ),
        path(
            "partners/<uuid:partner_id>/erase/",
            partner_views.partner_erase_page,
            name="partner_erase",
        ),
        path("settings/", tenant_settings.settings_general, name="settings"),
        path("settings/branding/", branding.settings_branding, name="settings_branding"),
        path("settings/security/", tenant_settings.settings_security, name="settings_security"),
        path("settings/domains/", tenant_settings.domain_create, name="domain_create"),
        path(
            "settings/domains/<uuid:domain_id>/remove/",
            tenant_settings.domain_delete,
            name="domain_delete",
        ),
        path("audit/", audit.audit_list, name="audit"),
        *pages.console_patterns,
        *money_pages.console_patterns,
        *crm_pages.console_patterns,
        *antifraud_pages.console_patterns,
        *notification_pages.console_patterns,
        *dataio_pages.console_patterns,
        *webhook_urls.console_patterns,
        *news_pages.console_patterns,
        *material_pages.console_patterns,
        *training_pages.console_patterns,
    ],
    "console",
)

prm_patterns = (
    [
        path("invite/<str:token>/", invitations.invitation_detail, name="invitation_accept"),
        path("security/2fa-required/", invitations.twofactor_required, name="twofactor_required"),
    ],
    "prm",
)

partner_patterns = (
    [
        path("", partner_views.home, name="home"),
        path("join/", partner_views.join, name="join"),
        path("account/data.json", partner_views.my_data, name="my_data"),
        path("recruit/<str:code>/", partner_views.recruit, name="recruit"),
        *partner_pages.cabinet_patterns,
        *pages.cabinet_patterns,
        *money_pages.cabinet_patterns,
        *notification_pages.cabinet_patterns,
        *news_pages.cabinet_patterns,
        *material_pages.cabinet_patterns,
        *training_pages.cabinet_patterns,
    ],
    "partners",
)

urlpatterns = [
    *tracking_patterns,
    # The tenant's branding, public: sign-in and join pages are branded too.
    path("brand/theme.css", branding.branding_css, name="branding_css"),
    path("brand/logo", branding.branding_logo, name="branding_logo"),
    path("brand/favicon", branding.branding_favicon, name="branding_favicon"),
    path("hooks/crm/<str:secret>/", crm_event, name="crm_event"),
    # Before api_patterns: those end with the JSON 404 for any other /api/ URL.
    *webhook_urls.api_patterns,
    *api_patterns,
    path("manage/", include(console_patterns)),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    *notification_pages.public_patterns,
    *material_pages.public_patterns,
    path("", include(prm_patterns)),
    path("", include(partner_patterns)),
]
