"""A course with a lesson and a quiz question, for the role matrix, the phone-width walk
and the training tests."""

from __future__ import annotations

from partners.training.models import Course, Lesson, Question
from partners.training.services import course_save, lesson_save, question_save
from prm.models import Tenant, User
from prm.tenancy import tenant_scope


def build(tenant: Tenant, actor: User, *, title: str = "Matrix course") -> dict[str, str]:
    with tenant_scope(tenant):
        course = course_save(
            tenant=tenant,
            actor=actor,
            course=Course(title=title, published=True, pass_mark=50),
            required_programs=[],
        )
        lesson = lesson_save(
            tenant=tenant,
            actor=actor,
            lesson=Lesson(course=course, title="First lesson", body="<p>Read me</p>"),
        )
        question = question_save(
            tenant=tenant,
            actor=actor,
            question=Question(course=course, lesson=None, text="Two plus two?"),
            choices=[("Four", True), ("Five", False)],
        )
    return {
        "course_id": str(course.pk),
        "lesson_id": str(lesson.pk),
        "quiz_question_id": str(question.pk),
    }
