from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AntifraudConfig(AppConfig):
    name = "antifraud"
    verbose_name = _("Antifraud")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Fingerprints of partners signing in or changing e-mail: allauth tells us
        # through its signals (there is no service of ours on that path).
        from allauth.account.signals import email_changed, user_logged_in

        from antifraud.services.fingerprints import on_email_changed, on_user_logged_in

        user_logged_in.connect(on_user_logged_in, dispatch_uid="antifraud_sign_in")
        email_changed.connect(on_email_changed, dispatch_uid="antifraud_email_changed")
