from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MaterialsConfig(AppConfig):
    name = "partners.materials"
    label = "materials"
    verbose_name = _("Marketing materials")
    default_auto_field = "django.db.models.BigAutoField"
