"""Cabinet: the partner's courses with their progress, lessons, quizzes and media."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Exists, OuterRef, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from partners.training import services
from partners.training.forms import QuizForm
from partners.training.gates import audience_q
from partners.training.models import Course, CoursePass, Lesson, LessonDone, Question
from partners.training.selectors import lessons_done_in_course, lessons_of_course
from partners.training.video import FRAME_HOSTS, embed_url
from prm.access import get_in_tenant_or_404
from prm.pagination import page_of
from programs.views.cabinet import active_partner_required

MEDIA_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


def _courses(request: HttpRequest):  # type: ignore[no-untyped-def]
    partner = request.partner  # type: ignore[attr-defined]
    # The partner's audience, and any course a program requires before joining it.
    gating = Course.objects.filter(required_programs__isnull=False).values("pk")
    return Course.objects.filter(audience_q(partner) | Q(pk__in=gating), published=True)


@active_partner_required
@require_safe
def course_list(request: HttpRequest) -> HttpResponse:
    partner = request.partner  # type: ignore[attr-defined]
    courses = _courses(request).annotate(
        lesson_count=lessons_of_course(),
        done_count=lessons_done_in_course(partner),
        passed=Exists(CoursePass.objects.filter(course=OuterRef("pk"), partner=partner)),
    )
    page = page_of(courses.order_by("title", "id"), request, 20)
    rows = [
        {
            "course": c,
            "percent": 100 if c.passed else _percent(c.done_count, c.lesson_count),  # type: ignore[attr-defined]
            "required": c.required_for_payouts,
        }
        for c in page
    ]
    return render(request, "cabinet/training/list.html", {"page": page, "rows": rows})


def _percent(done: int, total: int) -> int:
    return round(100 * done / total) if total else 0


def _course(request: HttpRequest, course_id: str) -> Course:
    return get_in_tenant_or_404(_courses(request), pk=course_id)


@active_partner_required
@require_http_methods(["GET", "POST"])
def course_detail(request: HttpRequest, course_id: str) -> HttpResponse:
    """The course's lessons with ticks, and its final quiz (taken on this page)."""
    partner = request.partner  # type: ignore[attr-defined]
    course = _course(request, course_id)
    lessons = list(
        Lesson.objects.filter(course=course)
        .defer("image", "file", "body")
        .annotate(done=Exists(LessonDone.objects.filter(lesson=OuterRef("pk"), partner=partner)))
    )
    final = list(
        Question.objects.filter(course=course, lesson__isnull=True).prefetch_related("choices")
    )
    form = QuizForm(request.POST or None, questions=final)
    graded = None
    if request.method == "POST" and final and form.is_valid():
        graded = services.quiz_submit(
            tenant=request.tenant,  # type: ignore[attr-defined]
            partner=partner,
            course=course,
            lesson=None,
            answers=form.answers(),
        )
        _tell(request, graded)
        if graded.passed:
            return redirect("partners:training_course", course_id=course.pk)
    done = sum(1 for lesson in lessons if lesson.done)  # type: ignore[attr-defined]
    passed = CoursePass.objects.filter(course=course, partner=partner).first()
    context = {
        "course": course,
        "lessons": lessons,
        "done": done,
        "percent": 100 if passed else _percent(done, len(lessons)),
        "passed": passed,
        "form": form if final else None,
        "wrong": set(map(str, graded.wrong)) if graded else set(),
        "all_done": done == len(lessons),
        "gated_programs": course.required_programs.order_by("name"),
    }
    return render(request, "cabinet/training/course.html", context)


def _tell(request: HttpRequest, graded: services.Graded) -> None:
    if graded.course_passed:
        messages.success(
            request, _("You passed the course with %(score)d%%.") % {"score": graded.score}
        )
    elif graded.passed:
        messages.success(request, _("Quiz passed: %(score)d%%.") % {"score": graded.score})
    else:
        messages.error(
            request,
            _("%(score)d%% — not enough to pass. Read the lesson again and retry.")
            % {"score": graded.score},
        )


def _lesson(request: HttpRequest, course_id: str, lesson_id: str) -> Lesson:
    course = _course(request, course_id)
    # The media bytes (a file may be 20 MB) are read only by the two views that send them.
    lessons = Lesson.objects.select_related("course").defer("image", "file")
    return get_in_tenant_or_404(lessons, pk=lesson_id, course=course)


@active_partner_required
@require_http_methods(["GET", "POST"])
def lesson_detail(request: HttpRequest, course_id: str, lesson_id: str) -> HttpResponse:
    """A lesson; its quiz (if any) is answered here, else "I have read it" marks it."""
    partner = request.partner  # type: ignore[attr-defined]
    lesson = _lesson(request, course_id, lesson_id)
    questions = list(Question.objects.filter(lesson=lesson).prefetch_related("choices"))
    form = QuizForm(request.POST or None, questions=questions) if questions else None
    graded = None
    if request.method == "POST":
        if form is None:
            services.lesson_mark_done(
                tenant=request.tenant,  # type: ignore[attr-defined]
                partner=partner,
                lesson=lesson,
            )
            return redirect(_next(lesson))
        if form.is_valid():
            graded = services.quiz_submit(
                tenant=request.tenant,  # type: ignore[attr-defined]
                partner=partner,
                course=lesson.course,
                lesson=lesson,
                answers=form.answers(),
            )
            _tell(request, graded)
            if graded.passed:
                return redirect(_next(lesson))
    context = {
        "course": lesson.course,
        "lesson": lesson,
        "video": embed_url(lesson.video_url) if lesson.video_url else None,
        "form": form,
        "wrong": set(map(str, graded.wrong)) if graded else set(),
        "done": LessonDone.objects.filter(lesson=lesson, partner=partner).exists(),
    }
    response = render(request, "cabinet/training/lesson.html", context)
    if context["video"]:
        response._csp_update = {"frame-src": FRAME_HOSTS}  # type: ignore[attr-defined]
    return response


def _next(lesson: Lesson) -> str:
    from django.urls import reverse

    after = (
        Lesson.objects.filter(course=lesson.course, position__gt=lesson.position)
        .order_by("position")
        .values_list("pk", flat=True)
        .first()
    )
    if after:
        return reverse("partners:training_lesson", args=[lesson.course_id, after])
    return reverse("partners:training_course", args=[lesson.course_id])


@active_partner_required
@require_safe
def lesson_image(request: HttpRequest, course_id: str, lesson_id: str) -> HttpResponse:
    lesson = _lesson(request, course_id, lesson_id)
    if not lesson.image_type or lesson.image_type not in ("image/png", "image/jpeg"):
        raise Http404
    response = HttpResponse(bytes(lesson.image), content_type=lesson.image_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CSP
    response["Cache-Control"] = "private, max-age=3600"
    return response


@active_partner_required
@require_safe
def lesson_file(request: HttpRequest, course_id: str, lesson_id: str) -> HttpResponse:
    lesson = _lesson(request, course_id, lesson_id)
    if not lesson.file_name:
        raise Http404
    response = HttpResponse(bytes(lesson.file), content_type=lesson.file_type)
    response["Content-Disposition"] = f'attachment; filename="{lesson.file_name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CSP
    return response
