"""Console URLs of exports and imports (wired into prm.urls_tenant's console namespace).

Each list's export lives under the list: ``<list URL>export/``; imports under
``<list URL>import/``."""

from __future__ import annotations

from django.urls import URLPattern, path

from prm.dataio.views import exports, imports, scheduled

REPORT_KINDS = ("partners", "programs", "channels", "quality", "periods")


def _export(route: str, source: str) -> URLPattern:
    return path(route, exports.export, {"source": source}, name=f"{source}_export")


def _imports(kind: str) -> list[URLPattern]:
    return [
        path(f"{kind}/import/", imports.import_start, {"kind": kind}, name=f"{kind}_import"),
        path(
            f"{kind}/import/<uuid:{kind}_import_id>/",
            imports.import_detail,
            {"kind": kind},
            name=f"{kind}_import_detail",
        ),
        path(
            f"{kind}/import/<uuid:{kind}_import_id>/confirm/",
            imports.import_confirm_view,
            {"kind": kind},
            name=f"{kind}_import_confirm",
        ),
    ]


console_patterns: list[URLPattern] = [
    _export("partners/export/", "partners"),
    _export("leads/export/", "leads"),
    _export("conversions/export/", "conversions"),
    _export("rewards/export/", "rewards"),
    _export("partners/<uuid:partner_id>/ledger/export/", "ledger"),
    _export("payouts/export/", "payouts"),
    _export("audit/export/", "audit"),
    *[_export(f"reports/{kind}/export/", f"report_{kind}") for kind in REPORT_KINDS],
    path("exports/<uuid:export_id>/", exports.export_detail, name="export_detail"),
    path("exports/<uuid:export_id>/download/", exports.export_download, name="export_download"),
    path("exports/scheduled/", scheduled.schedule_list, name="scheduled_exports"),
    path("exports/scheduled/new/", scheduled.schedule_add, name="scheduled_export_create"),
    path(
        "exports/scheduled/<uuid:schedule_id>/remove/",
        scheduled.schedule_remove,
        name="scheduled_export_remove",
    ),
    *_imports("partners"),
    *_imports("leads"),
    *_imports("conversions"),
]
