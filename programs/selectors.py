"""Reads for the console and cabinet pages: querysets with their counts in one query."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from partners.models import PartnerProfile
from prm.models import Membership
from programs.models import Click, Conversion, Enrollment, Lead, Program


def _count(queryset: QuerySet[Any], **outer: str) -> Coalesce:
    """A correlated COUNT(*) of ``queryset`` rows matching the outer row's fields.

    Subqueries rather than JOIN + COUNT(DISTINCT): several counts over joins multiply
    rows (enrollments x leads x conversions) before they are counted.
    """
    matched = queryset.filter(**{field: OuterRef(ref) for field, ref in outer.items()})
    counted = matched.order_by().values(next(iter(outer))).annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def programs_with_counts() -> QuerySet[Program]:
    return Program.objects.annotate(
        partners_active=_count(
            Enrollment.objects.filter(status=Enrollment.Status.ACTIVE), program="pk"
        ),
        partners_pending=_count(
            Enrollment.objects.filter(status=Enrollment.Status.PENDING), program="pk"
        ),
        leads_count=_count(Lead.objects.all(), program="pk"),
        conversions_count=_count(Conversion.objects.all(), program="pk"),
    ).order_by("name")


def program_enrollments(program: Program) -> QuerySet[Enrollment]:
    """The program's enrollments, newest first (paginated by the page)."""
    return (
        Enrollment.objects.filter(program=program)
        .select_related("partner__user")
        .order_by("-created_at", "-pk")
    )


def with_activity_counts(program: Program, enrollments: list[Enrollment]) -> list[Enrollment]:
    """Set ``clicks_count``, ``leads_count`` and ``conversions_count`` on one page of
    enrollments: three GROUP BY queries over the page's ids (indexed by
    ``(tenant, enrollment)`` and ``(tenant, program, partner, …)``), whatever the size
    of the program."""
    partner_ids = [e.partner_id for e in enrollments]

    def by(queryset: QuerySet[Any], field: str) -> dict[Any, int]:
        rows = queryset.order_by().values(field).annotate(n=Count("*")).values_list(field, "n")
        return dict(rows)

    clicks = by(Click.objects.filter(enrollment__in=[e.pk for e in enrollments]), "enrollment")
    leads = by(Lead.objects.filter(program=program, partner__in=partner_ids), "partner")
    conversions = by(Conversion.objects.filter(program=program, partner__in=partner_ids), "partner")
    for e in enrollments:
        e.clicks_count = clicks.get(e.pk, 0)  # type: ignore[attr-defined]
        e.leads_count = leads.get(e.partner_id, 0)  # type: ignore[attr-defined]
        e.conversions_count = conversions.get(e.partner_id, 0)  # type: ignore[attr-defined]
    return enrollments


# Each sort of the lead list with tie-breakers chosen so that one index serves both
# directions (read backwards for the reverse): see the indexes on Lead.
LEAD_ORDERS: dict[str, tuple[str, ...]] = {
    "-created_at": ("-created_at", "-pk"),
    "created_at": ("created_at", "pk"),
    "name": ("name", "created_at", "pk"),
    "-name": ("-name", "-created_at", "-pk"),
    "status": ("status", "-created_at", "-pk"),
    "-status": ("-status", "created_at", "pk"),
}


def leads_filtered(
    *,
    q: str = "",
    program: Program | None = None,
    status: str = "",
    partner: PartnerProfile | None = None,
    manager: Membership | str | None = None,
    duplicates: bool = False,
    sort: str = "-created_at",
) -> QuerySet[Lead]:
    leads = Lead.objects.select_related("program", "partner__user", "assigned_to__user").defer(
        "attribution"
    )  # the list never shows the trail
    if q:
        leads = leads.filter(
            Q(name__icontains=q)
            | Q(email__icontains=q)
            | Q(phone__icontains=q)
            | Q(company__icontains=q)
        )
    if program is not None:
        leads = leads.filter(program=program)
    if status:
        leads = leads.filter(status=status)
    if partner is not None:
        leads = leads.filter(partner=partner)
    if manager == "none":
        leads = leads.filter(assigned_to=None)
    elif isinstance(manager, Membership):
        leads = leads.filter(assigned_to=manager)
    if duplicates:
        leads = leads.filter(duplicate_of__isnull=False)
    return leads.order_by(*LEAD_ORDERS.get(sort, LEAD_ORDERS["-created_at"]))


def conversions_filtered(
    *,
    program: Program | None = None,
    partner: PartnerProfile | None = None,
    status: str = "",
) -> QuerySet[Conversion]:
    conversions = Conversion.objects.select_related("program", "partner__user").defer(
        "attribution"
    )  # the list never shows the trail
    if program is not None:
        conversions = conversions.filter(program=program)
    if partner is not None:
        conversions = conversions.filter(partner=partner)
    if status:
        conversions = conversions.filter(status=status)
    return conversions.order_by("-occurred_at", "-pk")


# The cabinet: a partner's own rows only.


def partner_leads(partner: PartnerProfile) -> QuerySet[Lead]:
    """Leads credited to the partner, and the deals they registered that turned out to
    be duplicates (credited to nobody, found by ``registered_by``)."""
    return Lead.objects.filter(Q(partner=partner) | Q(registered_by=partner)).select_related(
        "program"
    )


def partner_clicks(partner: PartnerProfile) -> QuerySet[Click]:
    # The IP column is never read for the cabinet, not even into memory.
    return (
        Click.objects.filter(partner=partner)
        .select_related("program")
        .only(
            "program__name",
            "code",
            "sub_id",
            "landing_url",
            "browser",
            "os",
            "status",
            "created_at",
        )
    )


def partner_conversions(partner: PartnerProfile) -> QuerySet[Conversion]:
    return Conversion.objects.filter(partner=partner).select_related("program")


def joinable_programs() -> QuerySet[Program]:
    """Active programs partners may ask to join (invitation-only ones stay hidden)."""
    return Program.objects.filter(
        status=Program.Status.ACTIVE,
        join_policy__in=[Program.JoinPolicy.OPEN, Program.JoinPolicy.APPROVAL],
    ).order_by("name")


def open_programs(partner: PartnerProfile) -> QuerySet[Program]:
    """Joinable programs the partner is not in yet."""
    return joinable_programs().exclude(enrollments__partner=partner)
