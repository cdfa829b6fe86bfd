"""What a course gates: joining the programs that require it, and payouts for the
partners of its audience. Read by programs.services.enrollments (join) and
rewards.services.payouts (a partner's request and the scheduled batch)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from partners.models import PartnerProfile

# A course's audience is a news post's (same field names and values): one rule for both.
from partners.news.selectors import audience_q
from partners.training.models import Course, CoursePass
from programs.models import Enrollment


def _not_passed(courses: QuerySet[Course], partner: PartnerProfile) -> list[Course]:
    passed = CoursePass.objects.filter(partner=partner).values("course_id")
    return list(courses.filter(published=True).exclude(pk__in=passed).order_by("title"))


def missing_for_join(partner: PartnerProfile, program: Any) -> list[Course]:
    """Published courses ``program`` requires that ``partner`` has not passed."""
    return _not_passed(Course.objects.filter(required_programs=program), partner)


def courses_to_pass_by_program(partner: PartnerProfile) -> dict[str, list[Course]]:
    """For the cabinet's programs page: program id -> the courses it requires that the
    partner has not passed (one query, whatever the number of programs)."""
    passed = CoursePass.objects.filter(partner=partner).values("course_id")
    rows = (
        Course.objects.filter(published=True, required_programs__isnull=False)
        .exclude(pk__in=passed)
        .annotate(gated=F("required_programs"))
        .order_by("title")
    )
    out: dict[str, list[Course]] = {}
    for course in rows:
        out.setdefault(str(course.gated), []).append(course)  # type: ignore[attr-defined]
    return out


def missing_for_payout(partner: PartnerProfile) -> list[Course]:
    """Published payout-gating courses of the partner's audience not passed yet."""
    return _not_passed(
        Course.objects.filter(audience_q(partner), required_for_payouts=True), partner
    )


def blocked_from_payouts(partner_ids: Iterable[Any]) -> set[Any]:
    """Of ``partner_ids``, those a payout-gating course still holds back (the scheduled
    batch's check: one query when no course gates payouts, a few per course otherwise)."""
    ids = set(partner_ids)
    courses = list(Course.objects.filter(published=True, required_for_payouts=True))
    blocked: set[Any] = set()
    for course in courses:
        if course.audience == Course.Audience.PROGRAM:
            concerned = set(
                Enrollment.objects.filter(
                    program_id=course.program_id,
                    status=Enrollment.Status.ACTIVE,
                    partner_id__in=ids,
                ).values_list("partner_id", flat=True)
            )
        elif course.audience == Course.Audience.GROUP:
            concerned = set(
                PartnerProfile.objects.filter(group_id=course.group_id, pk__in=ids).values_list(
                    "pk", flat=True
                )
            )
        else:
            concerned = set(ids)
        if concerned:
            passed = set(
                CoursePass.objects.filter(course=course, partner_id__in=concerned).values_list(
                    "partner_id", flat=True
                )
            )
            blocked |= concerned - passed
    return blocked


def gate_message(courses: list[Course], *, payout: bool) -> str:
    names = ", ".join(f"“{c.title}”" for c in courses)
    if payout:
        return _("Pass the course %(courses)s before asking for a payout (see Training).") % {
            "courses": names
        }
    return _("This program asks you to pass the course %(courses)s first (see Training).") % {
        "courses": names
    }


def course_url(course: Course) -> str:
    return reverse("partners:training_course", args=[course.pk], urlconf="prm.urls_tenant")
