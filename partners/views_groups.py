"""Console: partner groups (their hold period, the programs they are the default group
of, their members) and tags."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from partners.forms_people import GroupForm, TagForm
from partners.models import PartnerProfile, PartnerTag
from partners.people import group_save, tag_save
from prm.access import can, get_in_tenant_or_404, staff_required
from prm.permissions import Perm
from prm.post_only import post_only
from programs.models import Program
from rewards.models import PartnerGroup, RewardRule

PAGE_SIZE = 50


@staff_required(Perm.PARTNERS_VIEW)
@require_http_methods(["GET"])
def group_list(request: HttpRequest) -> HttpResponse:
    groups = PartnerGroup.objects.annotate(partners_count=Count("partners")).order_by("name")
    page = Paginator(groups, PAGE_SIZE).get_page(request.GET.get("page"))
    defaults: dict[object, list[str]] = {}
    for program in Program.objects.filter(default_group__in=[g.pk for g in page.object_list]):
        defaults.setdefault(program.default_group_id, []).append(program.name)
    for group in page.object_list:
        group.default_for = defaults.get(group.pk, [])  # type: ignore[attr-defined]
    return render(
        request,
        "console/partners/groups.html",
        {"page": page, "can_manage": can(request, Perm.GROUPS_MANAGE)},
    )


@staff_required(Perm.GROUPS_MANAGE)
@require_http_methods(["GET", "POST"])
def group_create(request: HttpRequest) -> HttpResponse:
    return _group_form(request, PartnerGroup())


@staff_required(Perm.GROUPS_MANAGE)
@require_http_methods(["GET", "POST"])
def group_edit(request: HttpRequest, group_id: str) -> HttpResponse:
    return _group_form(request, get_in_tenant_or_404(PartnerGroup, pk=group_id))


def _group_form(request: HttpRequest, group: PartnerGroup) -> HttpResponse:
    form = GroupForm(request.POST or None, instance=group)
    if request.method == "POST" and form.is_valid():
        saved = group_save(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            group=form.instance,
            default_for=form.cleaned_data["default_for"],
            request=request,
        )
        messages.success(request, _("Group %s saved.") % saved.name)
        return redirect("console:group_detail", group_id=saved.pk)
    return render(request, "console/partners/group_form.html", {"form": form, "group": group})


@staff_required(Perm.PARTNERS_VIEW)
@require_http_methods(["GET"])
def group_detail(request: HttpRequest, group_id: str) -> HttpResponse:
    group = get_in_tenant_or_404(PartnerGroup, pk=group_id)
    members = (
        PartnerProfile.objects.filter(group=group)
        .select_related("user")
        .order_by("-created_at", "pk")
    )
    page = Paginator(members, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "console/partners/group_detail.html",
        {
            "group": group,
            "page": page,
            "rules": RewardRule.objects.filter(group=group).select_related("program")[:50],
            "default_for": Program.objects.filter(default_group=group),
            "can_manage": can(request, Perm.GROUPS_MANAGE),
        },
    )


# Tags


@staff_required(Perm.PARTNERS_VIEW)
@require_http_methods(["GET"])
def tag_list(request: HttpRequest) -> HttpResponse:
    return _tag_page(request, None)


def _tag_page(request: HttpRequest, form: TagForm | None) -> HttpResponse:
    tags = PartnerTag.objects.annotate(partners_count=Count("taggings")).order_by("name")
    page = Paginator(tags, PAGE_SIZE).get_page(request.GET.get("page"))
    manages = can(request, Perm.PARTNERS_MANAGE)
    return render(
        request,
        "console/partners/tags.html",
        {"page": page, "form": (form or TagForm()) if manages else None},
    )


@staff_required(Perm.PARTNERS_MANAGE)
@post_only
def tag_create(request: HttpRequest) -> HttpResponse:
    form = TagForm(request.POST, instance=PartnerTag())
    if not form.is_valid():
        return _tag_page(request, form)
    tag = tag_save(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        tag=form.instance,
        request=request,
    )
    messages.success(request, _("Tag %s created.") % tag.name)
    return redirect("console:tags")


@staff_required(Perm.PARTNERS_MANAGE)
@require_http_methods(["GET", "POST"])
def tag_edit(request: HttpRequest, tag_id: str) -> HttpResponse:
    tag = get_in_tenant_or_404(PartnerTag, pk=tag_id)
    form = TagForm(request.POST or None, instance=tag)
    if request.method == "POST" and form.is_valid():
        tag_save(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            tag=form.instance,
            request=request,
        )
        messages.success(request, _("Tag %s saved.") % tag.name)
        return redirect("console:tags")
    return render(request, "console/partners/tag_form.html", {"form": form, "tag": tag})
