"""News: the console's posts (list, write, edit, delete) and the cabinet's feed."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from partners.access import partner_required
from partners.news.forms import PostForm
from partners.news.models import Post, PostImage
from partners.news.selectors import visible_posts, with_read_state
from partners.news.services import mark_read, post_delete, post_save
from prm.access import can, get_in_tenant_or_404, staff_required
from prm.pagination import page_of
from prm.permissions import Perm
from prm.post_only import post_only

PAGE_SIZE = 20
FEED_PAGE_SIZE = 10
IMAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


# Console


@staff_required(Perm.NEWS_VIEW)
@require_safe
def post_list(request: HttpRequest) -> HttpResponse:
    posts = (
        Post.objects.select_related("program", "group", "author")
        .annotate(has_image=Exists(PostImage.objects.filter(post=OuterRef("pk"))))
        .order_by("-publish_at", "-id")
    )
    page = page_of(posts, request, PAGE_SIZE)
    return render(
        request,
        "console/news/list.html",
        {"page": page, "can_manage": can(request, Perm.NEWS_MANAGE)},
    )


@staff_required(Perm.NEWS_MANAGE)
@require_http_methods(["GET", "POST"])
def post_create(request: HttpRequest) -> HttpResponse:
    return _post_form(request, Post())


@staff_required(Perm.NEWS_MANAGE)
@require_http_methods(["GET", "POST"])
def post_edit(request: HttpRequest, post_id: str) -> HttpResponse:
    return _post_form(request, get_in_tenant_or_404(Post, pk=post_id))


def _post_form(request: HttpRequest, post: Post) -> HttpResponse:
    form = PostForm(request.POST or None, request.FILES or None, instance=post)
    if request.method == "POST" and form.is_valid():
        saved = post_save(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            post=form.instance,
            image=form.clean_image_data,
            image_action=form.image_action,
            request=request,
        )
        if saved.published_at is not None:
            messages.success(request, _("The post “%s” is published.") % saved.title)
        else:
            messages.success(request, _("The post “%s” is scheduled.") % saved.title)
        return redirect("console:news")
    context = {"form": form, "post": post, "creating": post._state.adding}
    return render(request, "console/news/form.html", context)


@staff_required(Perm.NEWS_MANAGE)
@post_only
def post_remove(request: HttpRequest, post_id: str) -> HttpResponse:
    post = get_in_tenant_or_404(Post, pk=post_id)
    post_delete(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        post=post,
        request=request,
    )
    messages.success(request, _("The post “%s” is deleted.") % post.title)
    return redirect("console:news")


def _image_response(image: PostImage | None) -> HttpResponse:
    if image is None or image.content_type not in ("image/png", "image/jpeg"):
        raise Http404
    response = HttpResponse(bytes(image.content), content_type=image.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = IMAGE_CSP
    response["Cache-Control"] = "private, max-age=3600"
    return response


@staff_required(Perm.NEWS_VIEW)
@require_safe
def post_image(request: HttpRequest, post_id: str) -> HttpResponse:
    post = get_in_tenant_or_404(Post, pk=post_id)
    return _image_response(PostImage.objects.filter(post=post).first())


# Cabinet


@partner_required
@require_safe
def feed(request: HttpRequest) -> HttpResponse:
    partner = request.partner  # type: ignore[attr-defined]
    posts = with_read_state(visible_posts(partner), partner).annotate(
        has_image=Exists(PostImage.objects.filter(post=OuterRef("pk")))
    )
    page = page_of(posts, request, FEED_PAGE_SIZE)
    return render(request, "cabinet/news/feed.html", {"page": page})


def _visible_or_404(request: HttpRequest, post_id: str) -> Post:
    partner = request.partner  # type: ignore[attr-defined]
    return get_in_tenant_or_404(visible_posts(partner), pk=post_id)


@partner_required
@require_safe
def detail(request: HttpRequest, post_id: str) -> HttpResponse:
    post = _visible_or_404(request, post_id)
    if request.method == "GET":
        mark_read(
            tenant=request.tenant,  # type: ignore[attr-defined]
            partner=request.partner,  # type: ignore[attr-defined]
            post=post,
        )
    has_image = PostImage.objects.filter(post=post).exists()
    return render(request, "cabinet/news/detail.html", {"post": post, "has_image": has_image})


@partner_required
@require_safe
def image(request: HttpRequest, post_id: str) -> HttpResponse:
    post = _visible_or_404(request, post_id)
    return _image_response(PostImage.objects.filter(post=post).first())
