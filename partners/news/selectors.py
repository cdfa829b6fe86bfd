"""What a partner may read: published posts for everyone, for a program they are in
(an active enrollment) or for their group; and which of those they have not opened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse

from partners.models import PartnerProfile
from partners.news.models import Post, PostRead
from programs.models import Enrollment


def audience_q(partner: PartnerProfile) -> Q:
    programs = Enrollment.objects.filter(partner=partner, status=Enrollment.Status.ACTIVE).values(
        "program_id"
    )
    q = Q(audience=Post.Audience.EVERYONE) | Q(
        audience=Post.Audience.PROGRAM, program_id__in=programs
    )
    if partner.group_id:
        q |= Q(audience=Post.Audience.GROUP, group_id=partner.group_id)
    return q


def visible_posts(partner: PartnerProfile) -> QuerySet[Post]:
    """Published posts ``partner`` may read, newest first (none unless active)."""
    if partner.status != PartnerProfile.Status.ACTIVE:
        return Post.objects.none()
    return Post.objects.filter(audience_q(partner), published_at__isnull=False).order_by(
        "-publish_at", "-id"
    )


def with_read_state(posts: QuerySet[Post], partner: PartnerProfile) -> QuerySet[Post]:
    return posts.annotate(
        is_read=Exists(PostRead.objects.filter(post=OuterRef("pk"), partner=partner))
    )


def unread_count(partner: PartnerProfile | None, cap: int = 100) -> int:
    """How many posts ``partner`` may read and has not opened (at most ``cap``)."""
    if partner is None or partner.status != PartnerProfile.Status.ACTIVE:
        return 0
    unread = visible_posts(partner).filter(
        ~Exists(PostRead.objects.filter(post=OuterRef("pk"), partner=partner))
    )
    return unread.order_by()[:cap].count()


@dataclass(frozen=True)
class HomeItem:
    title: str
    url: str
    published_at: datetime
    unread: bool


def latest_for_home(partner: PartnerProfile, limit: int) -> list[Any]:
    """partners.home's news card: the latest posts with their unread state."""
    posts = with_read_state(visible_posts(partner), partner).only(
        "id", "title", "publish_at", "published_at"
    )[:limit]
    return [
        HomeItem(
            title=p.title,
            url=reverse("partners:news_detail", args=[p.pk], urlconf="prm.urls_tenant"),
            published_at=p.publish_at,
            unread=not p.is_read,  # type: ignore[attr-defined]
        )
        for p in posts
    ]
