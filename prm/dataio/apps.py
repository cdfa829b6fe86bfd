from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DataioConfig(AppConfig):
    """Export of every console list (streamed, or as a job when large), scheduled
    exports, and import of partners, leads and conversions (django-import-export)."""

    name = "prm.dataio"
    label = "dataio"
    verbose_name = _("Export and import")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from prm.dataio import sources  # noqa: F401  (registers the console lists)
