from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AntifraudConfig(AppConfig):
    name = "antifraud"
    verbose_name = _("Antifraud")
    default_auto_field = "django.db.models.BigAutoField"
