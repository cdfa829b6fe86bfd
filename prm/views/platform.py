"""The platform host: landing page with workspace sign-up (confirmed by an e-mailed link).

The landing form answers every accepted request the same way ("check your e-mail"),
whether the address has an account or not; the link decides (prm.services.workspace_signup).
"""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from prm.forms import WorkspaceForm, WorkspacePasswordForm
from prm.models import Tenant, User
from prm.ratelimits import TOO_MANY_ATTEMPTS, limit_hit
from prm.services.errors import SLUG_TAKEN, ServiceError
from prm.services.workspace_signup import (
    WorkspaceRequest,
    workspace_create_for_owner,
    workspace_create_with_account,
    workspace_link_read,
    workspace_owner,
    workspace_request_send,
)

SENT_SESSION_KEY = "prm_workspace_link_sent_to"
READY_SESSION_KEY = "prm_workspace_ready"


@require_http_methods(["GET", "POST"])
def landing(request: HttpRequest) -> HttpResponse:
    form = WorkspaceForm(request.POST or None)
    if request.method != "POST":
        return render(request, "platform/landing.html", {"form": form})
    # Every POST counts per address of the visitor; each link sent counts per e-mail.
    limited = limit_hit(request, action="workspace_signup")
    if not limited and form.is_valid():
        data = form.cleaned_data
        limited = limit_hit(request, action="workspace_signup_email", key=data["email"])
        if not limited:
            workspace_request_send(
                request=WorkspaceRequest(
                    name=data["name"],
                    slug=data["slug"],
                    email=data["email"],
                    language=request.LANGUAGE_CODE,
                )
            )
            request.session[SENT_SESSION_KEY] = data["email"]
            return redirect("workspace_sent")
    if limited:
        form.is_valid()  # so the form has its errors dict to add to
        form.add_error(None, TOO_MANY_ATTEMPTS)
        return render(request, "platform/landing.html", {"form": form}, status=429)
    return render(request, "platform/landing.html", {"form": form})


@require_safe
def workspace_sent(request: HttpRequest) -> HttpResponse:
    """The one answer of an accepted form, for existing and new addresses alike."""
    email = request.session.get(SENT_SESSION_KEY)
    if not email:
        return redirect("landing")
    return render(request, "platform/check_email.html", {"email": email})


@require_http_methods(["GET", "POST"])
def workspace_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The e-mailed link: an existing account confirms, a new one chooses a password."""
    try:
        wanted = workspace_link_read(token)
    except ServiceError as exc:
        return render(request, "platform/link_invalid.html", {"message": exc.message}, status=410)
    if Tenant.objects.filter(slug=wanted.slug).exists():
        return _slug_gone(request, wanted)
    owner = workspace_owner(wanted)
    if owner is not None:
        return _confirm_as_owner(request, wanted, owner)
    form = WorkspacePasswordForm(request.POST or None, email=wanted.email)
    if request.method == "POST" and form.is_valid():
        try:
            tenant, _user = workspace_create_with_account(
                request=wanted, password=form.cleaned_data["password1"], http_request=request
            )
        except ServiceError as exc:
            if exc.message == SLUG_TAKEN:
                return _slug_gone(request, wanted)
            # The address got an account meanwhile: the link now asks its owner to sign in.
            return redirect(request.path)
        return _ready(request, tenant)
    return render(request, "platform/set_password.html", {"form": form, "wanted": wanted})


def _confirm_as_owner(request: HttpRequest, wanted: WorkspaceRequest, owner: User) -> HttpResponse:
    if not request.user.is_authenticated:
        # Sign in (as the link's addressee) on the way, then come back here.
        return redirect_to_login(request.get_full_path(), login_url=reverse("account_login"))
    if request.user.pk != owner.pk:
        return render(request, "platform/wrong_account.html", {"wanted": wanted}, status=403)
    if request.method == "POST":
        try:
            tenant = workspace_create_for_owner(request=wanted, owner=owner, http_request=request)
        except ServiceError:
            return _slug_gone(request, wanted)
        return _ready(request, tenant)
    return render(request, "platform/confirm.html", {"wanted": wanted})


def _slug_gone(request: HttpRequest, wanted: WorkspaceRequest) -> HttpResponse:
    # Used already (the workspace exists) or taken by someone else since the e-mail.
    return render(request, "platform/link_used.html", {"wanted": wanted}, status=410)


def _ready(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    request.session[READY_SESSION_KEY] = tenant.slug
    return redirect("workspace_ready")


@require_safe
def workspace_ready(request: HttpRequest) -> HttpResponse:
    slug = request.session.get(READY_SESSION_KEY)
    tenant = Tenant.objects.filter(slug=slug).first() if slug else None
    if tenant is None:
        return redirect("landing")
    return render(request, "platform/workspace_created.html", {"tenant": tenant})
