"""Reads of training progress for other apps' pages (the console's partner page)."""

from __future__ import annotations

from typing import Any

from django.db.models import F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery

from partners.models import PartnerProfile
from partners.training.models import Course, CoursePass, Lesson, LessonDone, QuizAttempt

# A partner page lists the courses a partner touched; a workspace has a handful of
# courses, the cap only keeps a pathological one from growing the page.
PARTNER_COURSES = 20


def count_of(rows: QuerySet[Any]) -> Subquery:
    """``COUNT(*)`` of ``rows`` (filtered on an ``OuterRef``) as a scalar subquery. Counts
    of two relations joined into one query multiply each other's rows (lessons x every
    partner's passes); a subquery per count reads only its own rows."""
    counted = rows.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")
    return Subquery(counted, output_field=IntegerField())


def lessons_of_course() -> Subquery:
    return count_of(Lesson.objects.filter(course=OuterRef("pk")))


def lessons_done_in_course(partner: PartnerProfile) -> Subquery:
    return count_of(LessonDone.objects.filter(lesson__course=OuterRef("pk"), partner=partner))


def partner_courses(partner: PartnerProfile) -> QuerySet[Course]:
    """The courses ``partner`` started (a lesson done or a quiz tried) or passed, each
    with ``lessons_total``, ``lessons_done`` and ``passed_at`` (None if not passed):
    one query, whatever the number of courses or attempts."""
    passed = CoursePass.objects.filter(course=OuterRef("pk"), partner=partner).values("passed_at")
    tried = QuizAttempt.objects.filter(partner=partner).values("course_id")
    return (
        Course.objects.annotate(
            lessons_total=lessons_of_course(),
            lessons_done=lessons_done_in_course(partner),
            passed_at=Subquery(passed[:1]),
        )
        .filter(Q(lessons_done__gt=0) | Q(passed_at__isnull=False) | Q(pk__in=tried))
        .order_by("title")[:PARTNER_COURSES]
    )
