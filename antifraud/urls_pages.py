"""Console pages of antifraud (wired into prm.urls_tenant)."""

from __future__ import annotations

from django.urls import URLPattern, path

from antifraud.views import queue, setup

console_patterns: list[URLPattern] = [
    path("antifraud/", queue.queue, name="antifraud"),
    path("antifraud/bulk/", queue.queue_bulk, name="antifraud_bulk"),
    path("antifraud/settings/", setup.settings_page, name="antifraud_settings"),
    path("antifraud/settings/rescore/", setup.rescore, name="antifraud_rescore"),
    path("antifraud/blocklist/", setup.blocklist, name="antifraud_blocklist"),
    path("antifraud/blocklist/add/", setup.blocklist_add, name="antifraud_block_add"),
    path(
        "antifraud/blocklist/<int:entry_id>/remove/",
        setup.blocklist_remove,
        name="antifraud_block_remove",
    ),
    path("antifraud/<int:assessment_id>/", queue.item, name="antifraud_item"),
    path("antifraud/<int:assessment_id>/decide/", queue.item_decide, name="antifraud_decide"),
]
