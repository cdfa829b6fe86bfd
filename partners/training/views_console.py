"""Console: courses, their lessons and quiz questions, and who has passed them."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.db.models import Count, OuterRef, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from partners.models import PartnerProfile
from partners.training import services
from partners.training.forms import CourseForm, LessonForm, QuestionForm
from partners.training.models import Course, CoursePass, Lesson, LessonDone, Question, QuizAttempt
from partners.training.selectors import count_of, lessons_of_course
from prm.access import can, get_in_tenant_or_404, staff_required
from prm.pagination import page_of
from prm.permissions import Perm
from prm.post_only import post_only

PAGE_SIZE = 25


@staff_required(Perm.TRAINING_VIEW)
@require_safe
def course_list(request: HttpRequest) -> HttpResponse:
    courses = Course.objects.select_related("program", "group").annotate(
        lesson_count=lessons_of_course(),
        passed_count=count_of(CoursePass.objects.filter(course=OuterRef("pk"))),
    )
    page = page_of(courses.order_by("title", "id"), request, PAGE_SIZE)
    context = {"page": page, "can_manage": can(request, Perm.TRAINING_MANAGE)}
    return render(request, "console/training/list.html", context)


@staff_required(Perm.TRAINING_VIEW)
@require_safe
def course_detail(request: HttpRequest, course_id: str) -> HttpResponse:
    course = get_in_tenant_or_404(Course.objects.select_related("program", "group"), pk=course_id)
    lessons = list(
        Lesson.objects.filter(course=course)
        .annotate(done_count=count_of(LessonDone.objects.filter(lesson=OuterRef("pk"))))
        .defer("image", "file")
    )
    questions = list(
        Question.objects.filter(course=course).select_related("lesson").prefetch_related("choices")
    )
    context = {
        "course": course,
        "lessons": lessons,
        "final_questions": [q for q in questions if q.lesson_id is None],
        "lesson_questions": [q for q in questions if q.lesson_id is not None],
        "required_programs": course.required_programs.order_by("name"),
        "passed_count": CoursePass.objects.filter(course=course).count(),
        "can_manage": can(request, Perm.TRAINING_MANAGE),
    }
    return render(request, "console/training/course.html", context)


@staff_required(Perm.TRAINING_MANAGE)
@require_http_methods(["GET", "POST"])
def course_create(request: HttpRequest) -> HttpResponse:
    return _course_form(request, Course())


@staff_required(Perm.TRAINING_MANAGE)
@require_http_methods(["GET", "POST"])
def course_edit(request: HttpRequest, course_id: str) -> HttpResponse:
    return _course_form(request, get_in_tenant_or_404(Course, pk=course_id))


def _course_form(request: HttpRequest, course: Course) -> HttpResponse:
    form = CourseForm(request.POST or None, instance=course)
    if request.method == "POST" and form.is_valid():
        saved = services.course_save(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            course=form.instance,
            required_programs=form.cleaned_data["required_programs"],
            request=request,
        )
        messages.success(request, _("Course “%s” saved.") % saved.title)
        return redirect("console:training_course", course_id=saved.pk)
    context = {"form": form, "course": course, "creating": course._state.adding}
    return render(request, "console/training/course_form.html", context)


@staff_required(Perm.TRAINING_MANAGE)
@post_only
def course_delete(request: HttpRequest, course_id: str) -> HttpResponse:
    course = get_in_tenant_or_404(Course, pk=course_id)
    services.course_delete(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        course=course,
        request=request,
    )
    messages.success(request, _("Course “%s” deleted.") % course.title)
    return redirect("console:training")


@staff_required(Perm.TRAINING_MANAGE)
@require_http_methods(["GET", "POST"])
def lesson_create(request: HttpRequest, course_id: str) -> HttpResponse:
    course = get_in_tenant_or_404(Course, pk=course_id)
    return _lesson_form(request, course, Lesson(course=course))


@staff_required(Perm.TRAINING_MANAGE)
@require_http_methods(["GET", "POST"])
def lesson_edit(request: HttpRequest, course_id: str, lesson_id: str) -> HttpResponse:
    course = get_in_tenant_or_404(Course, pk=course_id)
    return _lesson_form(request, course, get_in_tenant_or_404(Lesson, pk=lesson_id, course=course))


def _lesson_form(request: HttpRequest, course: Course, lesson: Lesson) -> HttpResponse:
    form = LessonForm(request.POST or None, request.FILES or None, instance=lesson)
    if request.method == "POST" and form.is_valid():
        services.lesson_save(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            lesson=form.instance,
            image=form.clean_image_data,
            image_action=form.image_action,
            file=form.clean_file_data,
            file_action=form.file_action,
            request=request,
        )
        messages.success(request, _("Lesson “%s” saved.") % lesson.title)
        return redirect("console:training_course", course_id=course.pk)
    context = {"form": form, "course": course, "lesson": lesson, "creating": lesson._state.adding}
    return render(request, "console/training/lesson_form.html", context)


@staff_required(Perm.TRAINING_MANAGE)
@post_only
def lesson_delete(request: HttpRequest, course_id: str, lesson_id: str) -> HttpResponse:
    course = get_in_tenant_or_404(Course, pk=course_id)
    lesson = get_in_tenant_or_404(Lesson, pk=lesson_id, course=course)
    services.lesson_delete(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        lesson=lesson,
        request=request,
    )
    messages.success(request, _("Lesson “%s” deleted.") % lesson.title)
    return redirect("console:training_course", course_id=course.pk)


@staff_required(Perm.TRAINING_MANAGE)
@require_http_methods(["GET", "POST"])
def question_create(request: HttpRequest, course_id: str) -> HttpResponse:
    course = get_in_tenant_or_404(Course, pk=course_id)
    lesson = None
    if request.GET.get("lesson"):
        lesson = Lesson.objects.filter(
            course=course, pk=_uuid_or_none(request.GET["lesson"])
        ).first()
    return _question_form(request, course, Question(course=course, lesson=lesson))


@staff_required(Perm.TRAINING_MANAGE)
@require_http_methods(["GET", "POST"])
def question_edit(request: HttpRequest, course_id: str, quiz_question_id: str) -> HttpResponse:
    course = get_in_tenant_or_404(Course, pk=course_id)
    question = get_in_tenant_or_404(Question, pk=quiz_question_id, course=course)
    return _question_form(request, course, question)


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _question_form(request: HttpRequest, course: Course, question: Question) -> HttpResponse:
    form = QuestionForm(request.POST or None, instance=question, course=course)
    if request.method == "POST" and form.is_valid():
        services.question_save(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            question=form.instance,
            choices=form.answers,
            request=request,
        )
        messages.success(request, _("Question saved."))
        return redirect("console:training_course", course_id=course.pk)
    context = {
        "form": form,
        "course": course,
        "question": question,
        "creating": question._state.adding,
    }
    return render(request, "console/training/question_form.html", context)


@staff_required(Perm.TRAINING_MANAGE)
@post_only
def question_delete(request: HttpRequest, course_id: str, quiz_question_id: str) -> HttpResponse:
    course = get_in_tenant_or_404(Course, pk=course_id)
    question = get_in_tenant_or_404(Question, pk=quiz_question_id, course=course)
    services.question_delete(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        question=question,
        request=request,
    )
    messages.success(request, _("Question deleted."))
    return redirect("console:training_course", course_id=course.pk)


@staff_required(Perm.TRAINING_VIEW)
@require_safe
def course_progress(request: HttpRequest, course_id: str) -> HttpResponse:
    """Who has started the course: lessons done, last quiz score, passed or not (the
    partners who did anything in it, paginated; a search by name or e-mail)."""
    course = get_in_tenant_or_404(Course, pk=course_id)
    started = Q(pk__in=LessonDone.objects.filter(lesson__course=course).values("partner_id")) | Q(
        pk__in=QuizAttempt.objects.filter(course=course).values("partner_id")
    )
    partners = PartnerProfile.objects.filter(started).select_related("user")
    query = request.GET.get("q", "").strip()[:100]
    if query:
        partners = partners.filter(
            Q(display_name__icontains=query) | Q(user__email__icontains=query)
        )
    page = page_of(partners.order_by("display_name", "id"), request, PAGE_SIZE)
    ids = [p.pk for p in page]
    done = dict(
        LessonDone.objects.filter(lesson__course=course, partner_id__in=ids)
        .values("partner_id")
        .annotate(n=Count("id"))
        .values_list("partner_id", "n")
    )
    passed = dict(
        CoursePass.objects.filter(course=course, partner_id__in=ids).values_list(
            "partner_id", "passed_at"
        )
    )
    attempts = dict(
        QuizAttempt.objects.filter(course=course, partner_id__in=ids, lesson__isnull=True)
        .values("partner_id")
        .annotate(n=Count("id"))
        .values_list("partner_id", "n")
    )
    total = Lesson.objects.filter(course=course).count()
    rows = [
        {
            "partner": p,
            "done": done.get(p.pk, 0),
            "percent": round(100 * done.get(p.pk, 0) / total) if total else 0,
            "passed_at": passed.get(p.pk),
            "attempts": attempts.get(p.pk, 0),
        }
        for p in page
    ]
    context = {"course": course, "page": page, "rows": rows, "total": total, "q": query}
    return render(request, "console/training/progress.html", context)
