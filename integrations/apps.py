from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("Integrations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from integrations import signals  # noqa: F401  (connects the lead receivers)
        from integrations.crm import (
            partner_sync,  # noqa: F401  (partners → CRM contacts)
            reward_sync,  # noqa: F401  (rewards → lead pushes)
        )
