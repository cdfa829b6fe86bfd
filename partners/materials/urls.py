from __future__ import annotations

from django.urls import path

from partners.materials import views, views_cabinet

console_patterns = [
    path("materials/", views.material_list, name="materials"),
    path("materials/new/", views.material_create, name="material_create"),
    path("materials/<uuid:material_id>/", views.material_detail, name="material_detail"),
    path("materials/<uuid:material_id>/edit/", views.material_edit, name="material_edit"),
    path("materials/<uuid:material_id>/delete/", views.material_delete, name="material_delete"),
    path("materials/<uuid:material_id>/file/", views.material_file, name="material_file"),
]
cabinet_patterns = [
    path("materials/", views_cabinet.materials, name="materials"),
    path(
        "materials/<uuid:material_id>/download/",
        views_cabinet.material_download,
        name="material_download",
    ),
    path(
        "materials/<uuid:material_id>/copied/",
        views_cabinet.material_copied,
        name="material_copied",
    ),
]
public_patterns = [
    path("m/<uuid:material_id>/image", views_cabinet.material_image, name="material_image"),
]
