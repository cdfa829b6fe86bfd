"""Writing training: staff save and delete courses, lessons and questions (audited, each
in one transaction, nothing half-saved); partners mark lessons read and take quizzes,
which may pass a lesson and then the course."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import HttpRequest

from partners.materials.uploads import CleanFile
from partners.models import PartnerProfile
from partners.news.sanitize import clean_html
from partners.training.models import (
    Choice,
    Course,
    CoursePass,
    Lesson,
    LessonDone,
    Question,
    QuizAttempt,
)
from prm.audit import audit_record, snapshot
from prm.images import CleanImage
from prm.models import Tenant, User

KEEP, REPLACE, REMOVE = "keep", "replace", "remove"
COURSE_AUDITED = [
    "title",
    "audience",
    "program_id",
    "group_id",
    "published",
    "pass_mark",
    "required_for_payouts",
]


def course_save(
    *,
    tenant: Tenant,
    actor: User,
    course: Course,
    required_programs: Iterable[Any],
    request: HttpRequest | None = None,
) -> Course:
    creating = course._state.adding
    with transaction.atomic():
        before = {} if creating else snapshot(Course.objects.get(pk=course.pk), COURSE_AUDITED)
        course.tenant = tenant
        course.description = clean_html(course.description or "")
        course.save()
        course.required_programs.set(list(required_programs))
        audit_record(
            tenant=tenant,
            actor=actor,
            action="training.course_create" if creating else "training.course_update",
            obj=course,
            before=before,
            after={
                **snapshot(course, COURSE_AUDITED),
                "required_programs": sorted(str(p) for p in course.required_programs.all()),
            },
            request=request,
        )
    return course


def course_delete(
    *, tenant: Tenant, actor: User, course: Course, request: HttpRequest | None = None
) -> None:
    with transaction.atomic():
        audit_record(
            tenant=tenant,
            actor=actor,
            action="training.course_delete",
            obj=course,
            before=snapshot(course, COURSE_AUDITED),
            request=request,
        )
        course.delete()


def lesson_save(
    *,
    tenant: Tenant,
    actor: User,
    lesson: Lesson,
    image: CleanImage | None = None,
    image_action: str = KEEP,
    file: CleanFile | None = None,
    file_action: str = KEEP,
    request: HttpRequest | None = None,
) -> Lesson:
    creating = lesson._state.adding
    with transaction.atomic():
        lesson.tenant = tenant
        lesson.body = clean_html(lesson.body or "")
        if creating:
            last = Lesson.objects.filter(course=lesson.course).aggregate(m=Max("position"))["m"]
            lesson.position = (last or 0) + 1
        if image_action == REPLACE and image is not None:
            lesson.image, lesson.image_type = image.content, image.content_type
        elif image_action == REMOVE:
            lesson.image, lesson.image_type = None, ""
        if file_action == REPLACE and file is not None:
            lesson.file, lesson.file_name, lesson.file_type = (
                file.content,
                file.name,
                file.content_type,
            )
        elif file_action == REMOVE:
            lesson.file, lesson.file_name, lesson.file_type = None, "", ""
        lesson.save()
        audit_record(
            tenant=tenant,
            actor=actor,
            action="training.lesson_create" if creating else "training.lesson_update",
            obj=lesson.course,
            after={
                "lesson": lesson.title,
                "video": lesson.video_url,
                "image": bool(lesson.image_type),
                "file": lesson.file_name,
            },
            request=request,
        )
    return lesson


def lesson_delete(
    *, tenant: Tenant, actor: User, lesson: Lesson, request: HttpRequest | None = None
) -> None:
    with transaction.atomic():
        audit_record(
            tenant=tenant,
            actor=actor,
            action="training.lesson_delete",
            obj=lesson.course,
            before={"lesson": lesson.title},
            request=request,
        )
        lesson.delete()


def question_save(
    *,
    tenant: Tenant,
    actor: User,
    question: Question,
    choices: list[tuple[str, bool]],
    request: HttpRequest | None = None,
) -> Question:
    """Save a question with its answers (replacing the old ones), all or nothing. The
    form has checked that there are two answers or more and that the right ones fit
    the question's kind."""
    creating = question._state.adding
    with transaction.atomic():
        question.tenant = tenant
        if creating:
            last = Question.objects.filter(course=question.course).aggregate(m=Max("position"))
            question.position = (last["m"] or 0) + 1
        question.save()
        Choice.objects.filter(question=question).delete()
        Choice.objects.bulk_create(
            Choice(tenant=tenant, question=question, position=n, text=text, correct=correct)
            for n, (text, correct) in enumerate(choices, start=1)
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            action="training.question_create" if creating else "training.question_update",
            obj=question.course,
            after={
                "question": question.text,
                "lesson": str(question.lesson) if question.lesson_id else None,
                "answers": [f"{'+' if ok else '-'} {text}" for text, ok in choices],
            },
            request=request,
        )
    return question


def question_delete(
    *, tenant: Tenant, actor: User, question: Question, request: HttpRequest | None = None
) -> None:
    with transaction.atomic():
        audit_record(
            tenant=tenant,
            actor=actor,
            action="training.question_delete",
            obj=question.course,
            before={"question": question.text},
            request=request,
        )
        question.delete()


# ------------------------------------------------------------------ partners' progress


@dataclass(frozen=True)
class Graded:
    score: int  # per cent of the questions answered right
    passed: bool
    wrong: list[Any]  # the questions answered wrong (ids)
    course_passed: bool


def _done(tenant: Tenant, partner: PartnerProfile, lesson: Lesson) -> None:
    try:
        with transaction.atomic():
            LessonDone.objects.create(tenant=tenant, partner=partner, lesson=lesson)
    except IntegrityError:
        pass  # done before (a second tab): nothing to add


def lesson_mark_done(*, tenant: Tenant, partner: PartnerProfile, lesson: Lesson) -> bool:
    """A lesson without a quiz is done when read; returns whether the course is passed."""
    if Question.objects.filter(lesson=lesson).exists():
        return False  # its quiz decides
    _done(tenant, partner, lesson)
    return course_check(tenant=tenant, partner=partner, course=lesson.course)


def quiz_submit(
    *,
    tenant: Tenant,
    partner: PartnerProfile,
    course: Course,
    lesson: Lesson | None,
    answers: Mapping[str, set[str]],
) -> Graded:
    """Grade the quiz of ``lesson`` (or the course's final quiz): a question counts when
    exactly its right answers are chosen. Every attempt is kept."""
    questions = list(
        Question.objects.filter(course=course, lesson=lesson).prefetch_related("choices")
    )
    wrong = []
    for q in questions:
        right = {str(c.pk) for c in q.choices.all() if c.correct}
        if answers.get(str(q.pk), set()) != right:
            wrong.append(q.pk)
    score = round(100 * (len(questions) - len(wrong)) / len(questions)) if questions else 100
    passed = score >= course.pass_mark
    with transaction.atomic():
        QuizAttempt.objects.create(
            tenant=tenant, partner=partner, course=course, lesson=lesson, score=score, passed=passed
        )
        if passed and lesson is not None:
            _done(tenant, partner, lesson)
        course_passed = course_check(tenant=tenant, partner=partner, course=course)
    return Graded(score=score, passed=passed, wrong=wrong, course_passed=course_passed)


def course_check(*, tenant: Tenant, partner: PartnerProfile, course: Course) -> bool:
    """Pass the course when every lesson is done and its final quiz (if any) passed."""
    if CoursePass.objects.filter(partner=partner, course=course).exists():
        return True
    lessons = Lesson.objects.filter(course=course)
    if not lessons.exists() and not Question.objects.filter(course=course).exists():
        return False  # an empty course teaches nothing: nobody passes it
    if lessons.exclude(done_by__partner=partner).exists():
        return False
    final = Question.objects.filter(course=course, lesson__isnull=True).exists()
    if (
        final
        and not QuizAttempt.objects.filter(
            partner=partner, course=course, lesson__isnull=True, passed=True
        ).exists()
    ):
        return False
    try:
        with transaction.atomic():
            CoursePass.objects.create(tenant=tenant, partner=partner, course=course)
    except IntegrityError:
        pass
    return True
