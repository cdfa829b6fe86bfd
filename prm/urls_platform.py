"""URLs of the platform's own host: landing/sign-up, operators' admin, health."""

from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.contrib.auth.decorators import user_passes_test
from django.urls import include, path
from django.urls.resolvers import URLPattern, URLResolver
from django_rq.admin import QueueAdmin
from django_rq.models import Dashboard

from prm.views import health, platform

# Operators only: superusers pass, everybody else (staff flag or not) is refused, and
# the admin's login goes through allauth so 2FA applies to operators too.
admin.site.has_permission = lambda request: (  # type: ignore[method-assign]
    request.user.is_active and request.user.is_superuser
)
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
admin.site.site_header = "PRM operators"

_superuser = user_passes_test(
    lambda u: u.is_active and u.is_superuser, login_url="/ops/admin/login/"
)


def _guard(patterns: list[URLPattern | URLResolver]) -> list[URLPattern | URLResolver]:
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback = _superuser(pattern.callback)
        elif isinstance(pattern, URLResolver):
            # Nested too: django-rq's statistics JSON otherwise answered anyone with a
            # token check of its own (a 500 on a non-ASCII token).
            _guard(pattern.url_patterns)
    return patterns


class _OperatorsQueueAdmin(QueueAdmin):
    """django-rq's admin dashboard leaves its statistics JSON to a token check of its own
    (which lets any staff user in, and answered 500 to a non-ASCII token): operators only,
    like the rest."""

    def get_urls(self) -> list[URLPattern | URLResolver]:
        return _guard(super().get_urls())


if admin.site.is_registered(Dashboard):
    admin.site.unregister(Dashboard)
    admin.site.register(Dashboard, _OperatorsQueueAdmin)


def _rq_urls() -> list[URLPattern | URLResolver]:
    from django_rq import urls as rq_urls

    return _guard(list(rq_urls.urlpatterns))


urlpatterns = [
    path("", platform.landing, name="landing"),
    path("workspace/sent/", platform.workspace_sent, name="workspace_sent"),
    path("workspace/confirm/<str:token>/", platform.workspace_confirm, name="workspace_confirm"),
    path("workspace/ready/", platform.workspace_ready, name="workspace_ready"),
    path("healthz", health.healthz, name="healthz"),
    path("ops/admin/rq/", include((_rq_urls(), "django_rq"))),
    path("ops/admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]
