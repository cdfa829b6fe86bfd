from __future__ import annotations

from django.urls import path

from partners.training import views_cabinet as cabinet
from partners.training import views_console as console

console_patterns = [
    path("training/", console.course_list, name="training"),
    path("training/new/", console.course_create, name="training_create"),
    path("training/<uuid:course_id>/", console.course_detail, name="training_course"),
    path("training/<uuid:course_id>/edit/", console.course_edit, name="training_edit"),
    path("training/<uuid:course_id>/delete/", console.course_delete, name="training_delete"),
    path("training/<uuid:course_id>/progress/", console.course_progress, name="training_progress"),
    path(
        "training/<uuid:course_id>/lessons/new/",
        console.lesson_create,
        name="training_lesson_create",
    ),
    path(
        "training/<uuid:course_id>/lessons/<uuid:lesson_id>/",
        console.lesson_edit,
        name="training_lesson_edit",
    ),
    path(
        "training/<uuid:course_id>/lessons/<uuid:lesson_id>/delete/",
        console.lesson_delete,
        name="training_lesson_delete",
    ),
    path(
        "training/<uuid:course_id>/questions/new/",
        console.question_create,
        name="training_question_create",
    ),
    path(
        "training/<uuid:course_id>/questions/<uuid:quiz_question_id>/",
        console.question_edit,
        name="training_question_edit",
    ),
    path(
        "training/<uuid:course_id>/questions/<uuid:quiz_question_id>/delete/",
        console.question_delete,
        name="training_question_delete",
    ),
]
cabinet_patterns = [
    path("training/", cabinet.course_list, name="training"),
    path("training/<uuid:course_id>/", cabinet.course_detail, name="training_course"),
    path(
        "training/<uuid:course_id>/lessons/<uuid:lesson_id>/",
        cabinet.lesson_detail,
        name="training_lesson",
    ),
    path(
        "training/<uuid:course_id>/lessons/<uuid:lesson_id>/image/",
        cabinet.lesson_image,
        name="training_lesson_image",
    ),
    path(
        "training/<uuid:course_id>/lessons/<uuid:lesson_id>/file/",
        cabinet.lesson_file,
        name="training_lesson_file",
    ),
]
