"""Reads of training progress for other apps' pages (the console's partner page)."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from partners.models import PartnerProfile
from partners.training.models import Course, CoursePass, QuizAttempt

# A partner page lists the courses a partner touched; a workspace has a handful of
# courses, the cap only keeps a pathological one from growing the page.
PARTNER_COURSES = 20


def partner_courses(partner: PartnerProfile) -> QuerySet[Course]:
    """The courses ``partner`` started (a lesson done or a quiz tried) or passed, each
    with ``lessons_total``, ``lessons_done`` and ``passed_at`` (None if not passed):
    one query, whatever the number of courses or attempts."""
    passed = CoursePass.objects.filter(course=OuterRef("pk"), partner=partner).values("passed_at")
    tried = QuizAttempt.objects.filter(partner=partner).values("course_id")
    return (
        Course.objects.annotate(
            lessons_total=Count("lessons", distinct=True),
            lessons_done=Count(
                "lessons__done_by", filter=Q(lessons__done_by__partner=partner), distinct=True
            ),
            passed_at=Subquery(passed[:1]),
        )
        .filter(Q(lessons_done__gt=0) | Q(passed_at__isnull=False) | Q(pk__in=tried))
        .order_by("title")[:PARTNER_COURSES]
    )
