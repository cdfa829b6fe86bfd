"""The platform host: landing page with workspace sign-up, and operators' health."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from prm.forms import WorkspaceForm
from prm.models import User
from prm.services.errors import ServiceError
from prm.services.tenants import tenant_create


@require_http_methods(["GET", "POST"])
def landing(request: HttpRequest) -> HttpResponse:
    form = WorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                user = data.get("user")
                if user is None:
                    user = User.objects.create_user(email=data["email"], password=data["password"])
                    EmailAddress.objects.create(
                        user=user, email=user.email, primary=True, verified=False
                    )
                tenant = tenant_create(
                    name=data["name"],
                    slug=data["slug"],
                    owner=user,
                    language=request.LANGUAGE_CODE,
                    request=request,
                )
        except ServiceError as exc:
            form.add_error("slug", exc.message)
        else:
            address = EmailAddress.objects.filter(user=user, primary=True).first()
            needs_verification = address is not None and not address.verified
            if needs_verification:
                request.signup_tenant = tenant  # type: ignore[attr-defined]
                address.send_confirmation(request, signup=True)
            return render(
                request,
                "platform/workspace_created.html",
                {"tenant": tenant, "email": user.email, "needs_verification": needs_verification},
            )
    return render(request, "platform/landing.html", {"form": form})
