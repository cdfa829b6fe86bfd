"""Console (/manage/…) and cabinet pages of programs, leads, conversions and API keys.

prm.urls_tenant appends ``console_patterns`` to the ``console`` namespace and
``cabinet_patterns`` to the ``partners`` one.
"""

from __future__ import annotations

from django.urls import path

from prm.views import apikeys
from programs.views import cabinet, console, conversions, leads, reports

console_patterns = [
    path("reports/partners/", reports.report_partners, name="report_partners"),
    path("reports/programs/", reports.report_programs, name="report_programs"),
    path("reports/channels/", reports.report_channels, name="report_channels"),
    path("reports/quality/", reports.report_quality, name="report_quality"),
    path("reports/periods/", reports.report_periods, name="report_periods"),
    path("programs/", console.program_list, name="programs"),
    path("programs/new/", console.program_create, name="program_create"),
    path("programs/<uuid:program_id>/", console.program_detail, name="program_detail"),
    path("programs/<uuid:program_id>/edit/", console.program_edit, name="program_edit"),
    path("programs/<uuid:program_id>/enroll/", console.program_enroll, name="program_enroll"),
    path(
        "programs/<uuid:program_id>/promo-codes/",
        console.promo_code_add,
        name="promo_code_create",
    ),
    path(
        "enrollments/<uuid:enrollment_id>/status/",
        console.enrollment_status,
        name="enrollment_status",
    ),
    path("leads/", leads.lead_list, name="leads"),
    path("leads/new/", leads.lead_create, name="lead_create"),
    path("leads/bulk/", leads.leads_bulk, name="leads_bulk"),
    path("leads/<uuid:lead_id>/", leads.lead_detail, name="lead_detail"),
    path("leads/<uuid:lead_id>/status/", leads.lead_status, name="lead_status"),
    path("leads/<uuid:lead_id>/assign/", leads.lead_assign, name="lead_assign"),
    path("leads/<uuid:lead_id>/notes/", leads.lead_note, name="lead_note"),
    path("conversions/", conversions.conversion_list, name="conversions"),
    path(
        "conversions/<uuid:conversion_id>/",
        conversions.conversion_detail,
        name="conversion_detail",
    ),
    path("api-keys/", apikeys.api_key_list, name="api_keys"),
    path("api-keys/new/", apikeys.api_key_create, name="api_key_create"),
    path("api-keys/<uuid:key_id>/revoke/", apikeys.api_key_revoke, name="api_key_revoke"),
]

cabinet_patterns = [
    path("programs/", cabinet.program_list, name="programs"),
    path("programs/<uuid:program_id>/join/", cabinet.program_join, name="program_join"),
    path("programs/<uuid:enrollment_id>/", cabinet.enrollment_detail, name="enrollment"),
    path(
        "programs/<uuid:enrollment_id>/promo-codes/",
        cabinet.promo_code_add,
        name="promo_code_create",
    ),
    path("programs/<uuid:enrollment_id>/deals/", cabinet.deal_register, name="deal_register"),
    path("stats/", cabinet.stats, name="stats"),
]
