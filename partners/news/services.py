"""Writing news posts: save (with the image, publishing when due), delete, publish the
scheduled ones, and a partner's read state. Every staff change is audited in its own
transaction; the e-mails are outbox rows written in it (sent after commit)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from partners.models import PartnerProfile
from partners.news.models import Post, PostImage, PostRead
from partners.news.sanitize import clean_html, plain_text
from prm import public_urls
from prm.audit import audit_record, snapshot
from prm.images import CleanImage
from prm.models import Tenant, User
from prm.tenancy import tenant_scope
from programs.models import Enrollment

log = logging.getLogger(__name__)

AUDITED = [
    "title",
    "audience",
    "program_id",
    "group_id",
    "publish_at",
    "published_at",
    "send_email",
]
# A post's image kept, replaced or removed.
KEEP, REPLACE, REMOVE = "keep", "replace", "remove"


def audience_partner_ids(post: Post) -> list[Any] | None:
    """The partners a post is for (None: every partner of the workspace)."""
    if post.audience == Post.Audience.PROGRAM:
        return list(
            Enrollment.objects.filter(
                program_id=post.program_id, status=Enrollment.Status.ACTIVE
            ).values_list("partner_id", flat=True)
        )
    if post.audience == Post.Audience.GROUP:
        return list(
            PartnerProfile.objects.filter(group_id=post.group_id).values_list("pk", flat=True)
        )
    return None


def _announce(tenant: Tenant, post: Post) -> int:
    """E-mail a published post to its audience, once: the outbox keeps one row per
    partner and post (a repeat is a no-op), ``emailed_at`` stops the next attempt."""
    from prm.notifications.events import news_posted

    if not post.send_email or post.published_at is None or post.emailed_at is not None:
        return 0
    url = public_urls.tenant_url(
        tenant, reverse("partners:news_detail", args=[post.pk], urlconf="prm.urls_tenant")
    )
    count = news_posted(
        tenant=tenant,
        post_id=post.pk,
        title=post.title,
        summary=plain_text(post.body, 500),
        url=url,
        partner_ids=audience_partner_ids(post),
    )
    post.emailed_at = timezone.now()
    Post.objects.filter(pk=post.pk).update(emailed_at=post.emailed_at)
    return count


def _publish_if_due(tenant: Tenant, post: Post) -> bool:
    now = timezone.now()
    if post.published_at is None and post.publish_at <= now:
        post.published_at = now
        Post.objects.filter(pk=post.pk).update(published_at=now)
        return True
    return False


def post_save(
    *,
    tenant: Tenant,
    actor: User,
    post: Post,
    image: CleanImage | None = None,
    image_action: str = KEEP,
    request: HttpRequest | None = None,
) -> Post:
    """Create or update ``post`` (fields set by the form), with its image, all in one
    transaction; published now if its time has come, e-mailed if asked."""
    creating = post._state.adding
    before: dict[str, Any] = {}
    with transaction.atomic():
        if not creating:
            old = Post.objects.select_for_update().get(pk=post.pk)
            before = snapshot(old, AUDITED)
            # Set by publishing and e-mailing only: never by the form.
            post.published_at, post.emailed_at = old.published_at, old.emailed_at
        post.tenant = tenant
        post.body = clean_html(post.body)
        if creating:
            post.author = actor
        post.save()
        if image_action == REMOVE:
            PostImage.objects.filter(post=post).delete()
        elif image_action == REPLACE and image is not None:
            row = PostImage.objects.filter(post=post).first() or PostImage(tenant=tenant, post=post)
            row.content, row.content_type = image.content, image.content_type
            row.width, row.height = image.width, image.height
            row.version = (row.version or 0) + (0 if row._state.adding else 1)
            row.save()
        _publish_if_due(tenant, post)
        _announce(tenant, post)
        audit_record(
            tenant=tenant,
            actor=actor,
            action="news.create" if creating else "news.update",
            obj=post,
            before=before,
            after={**snapshot(post, AUDITED), "image": image_action},
            request=request,
        )
    return post


def post_delete(
    *, tenant: Tenant, actor: User, post: Post, request: HttpRequest | None = None
) -> None:
    with transaction.atomic():
        audit_record(
            tenant=tenant,
            actor=actor,
            action="news.delete",
            obj=post,
            before=snapshot(post, AUDITED),
            request=request,
        )
        post.delete()


def publish_due(*, limit: int = 500) -> int:
    """Periodic (prm/cron.py): publish scheduled posts whose time has come, each in its
    tenant's scope and its own transaction (a post locked by an edit waits for the next
    run). Safe to repeat: a published post is never published or e-mailed again."""
    now = timezone.now()
    # Crosses tenants on purpose: it lists what is due, then enters each post's scope.
    due = list(
        Post.all_tenants_unscoped.filter(published_at__isnull=True, publish_at__lte=now)
        .order_by("publish_at")
        .values_list("tenant_id", "pk")[:limit]
    )
    by_tenant: dict[Any, list[Any]] = {}
    for tenant_id, pk in due:
        by_tenant.setdefault(tenant_id, []).append(pk)
    published = 0
    for tenant in Tenant.objects.filter(pk__in=list(by_tenant)):
        with tenant_scope(tenant):
            for pk in by_tenant[tenant.pk]:
                try:
                    with transaction.atomic():
                        post = (
                            Post.objects.select_for_update(skip_locked=True)
                            .filter(pk=pk, published_at__isnull=True)
                            .first()
                        )
                        if post is None or not _publish_if_due(tenant, post):
                            continue
                        _announce(tenant, post)
                        audit_record(
                            tenant=tenant,
                            actor=None,
                            action="news.publish",
                            obj=post,
                            after=snapshot(post, AUDITED),
                        )
                        published += 1
                except Exception:
                    log.exception("publishing news post %s failed", pk)
    return published


def mark_read(*, tenant: Tenant, partner: PartnerProfile, post: Post) -> None:
    """The partner opened ``post``; opening it again changes nothing."""
    PostRead.objects.bulk_create(
        [PostRead(tenant=tenant, partner=partner, post=post)], ignore_conflicts=True
    )
