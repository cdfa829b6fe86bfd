from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NewsConfig(AppConfig):
    name = "partners.news"
    label = "news"
    verbose_name = _("News")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The cabinet home page's news card (partners.home's hook).
        from partners import home
        from partners.news.selectors import latest_for_home

        home.news_source = latest_for_home
