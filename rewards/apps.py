from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RewardsConfig(AppConfig):
    name = "rewards"
    verbose_name = _("Rewards and payouts")
    default_auto_field = "django.db.models.BigAutoField"
