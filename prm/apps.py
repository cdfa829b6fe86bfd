from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrmConfig(AppConfig):
    name = "prm"
    verbose_name = _("Platform")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.core import checks

        from prm.crypto import check_encryption_key

        checks.register(check_encryption_key, checks.Tags.security, deploy=False)

        from prm.workspaces import on_sign_in

        user_logged_in.connect(on_sign_in, dispatch_uid="prm.workspaces.on_sign_in")
