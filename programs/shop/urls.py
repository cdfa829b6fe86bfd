"""The demo shop at shop.<base domain>: a sample client site (demo mode only)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseNotFound
from django.urls import path

from programs.shop import views

urlpatterns = [
    path("", views.home, name="shop_home"),
    path("pricing", views.pricing, name="shop_pricing"),
    path("signup", views.signup, name="shop_signup"),
    path("account", views.account, name="shop_account"),
    path("buy", views.buy, name="shop_buy"),
]


def not_found(request: HttpRequest, exception: Exception) -> HttpResponseNotFound:
    return HttpResponseNotFound("Not found")


handler404 = not_found
