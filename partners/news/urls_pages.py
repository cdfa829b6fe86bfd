from __future__ import annotations

from django.urls import path

from partners.news import views

console_patterns = [
    path("news/", views.post_list, name="news"),
    path("news/new/", views.post_create, name="news_create"),
    path("news/<uuid:post_id>/", views.post_edit, name="news_edit"),
    path("news/<uuid:post_id>/delete/", views.post_remove, name="news_delete"),
    path("news/<uuid:post_id>/image/", views.post_image, name="news_image"),
]
cabinet_patterns = [
    path("news/", views.feed, name="news"),
    path("news/<uuid:post_id>/", views.detail, name="news_detail"),
    path("news/<uuid:post_id>/image/", views.image, name="news_image"),
]
