"""Console: webhook endpoints, their secret, test events and the delivery log."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prm.access import get_in_tenant_or_404, staff_required
from prm.pagination import page_of
from prm.permissions import Perm
from prm.post_only import post_only
from prm.webhooks import services
from prm.webhooks.events import EVENTS
from prm.webhooks.forms import EndpointForm
from prm.webhooks.models import WebhookDelivery, WebhookEndpoint

PAGE_SIZE = 25
PERM = Perm.INTEGRATIONS_MANAGE


@staff_required(PERM)
@require_http_methods(["GET"])
def endpoint_list(request: HttpRequest) -> HttpResponse:
    page = page_of(WebhookEndpoint.objects.select_related("created_by"), request, PAGE_SIZE)
    return render(request, "console/webhooks/list.html", {"page": page, "events": EVENTS})


def _form_page(
    request: HttpRequest, form: EndpointForm, endpoint: WebhookEndpoint | None = None
) -> HttpResponse:
    return render(request, "console/webhooks/form.html", {"form": form, "endpoint": endpoint})


@staff_required(PERM)
@require_http_methods(["GET", "POST"])
def endpoint_create(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _form_page(request, EndpointForm())
    form = EndpointForm(request.POST)
    if not form.is_valid():
        return _form_page(request, form)
    endpoint, secret = services.endpoint_create(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        url=form.cleaned_data["url"],
        events=form.cleaned_data["events"],
        description=form.cleaned_data["description"],
        request=request,
    )
    # Rendered, not redirected: the secret is in this response only.
    return _detail_page(request, endpoint, secret=secret)


def _detail_page(request: HttpRequest, endpoint: WebhookEndpoint, secret: str = "") -> HttpResponse:
    status = request.GET.get("status", "")
    rows = WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event")
    if status in WebhookDelivery.Status.values:
        rows = rows.filter(status=status)
    page = page_of(rows.order_by("-created_at", "-id"), request, PAGE_SIZE)
    context = {
        "endpoint": endpoint,
        "page": page,
        "secret": secret,
        "status": status,
        "statuses": WebhookDelivery.Status.choices,
        "query": f"status={status}" if status else "",
    }
    response = render(request, "console/webhooks/detail.html", context)
    if secret:
        response["Cache-Control"] = "no-store"
    return response


@staff_required(PERM)
@require_http_methods(["GET"])
def endpoint_detail(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    return _detail_page(request, get_in_tenant_or_404(WebhookEndpoint, pk=endpoint_id))


@staff_required(PERM)
@require_http_methods(["GET", "POST"])
def endpoint_edit(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    endpoint = get_in_tenant_or_404(WebhookEndpoint, pk=endpoint_id)
    if request.method != "POST":
        initial = {
            "url": endpoint.url,
            "description": endpoint.description,
            "events": endpoint.events,
            "enabled": endpoint.enabled,
        }
        return _form_page(request, EndpointForm(initial=initial, editing=True), endpoint)
    form = EndpointForm(request.POST, editing=True)
    if not form.is_valid():
        return _form_page(request, form, endpoint)
    services.endpoint_update(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        endpoint=endpoint,
        changes=form.cleaned_data,
        request=request,
    )
    messages.success(request, _("The endpoint was saved."))
    return redirect("console:webhook_detail", endpoint_id=endpoint.pk)


@staff_required(PERM)
@post_only
def endpoint_delete(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    endpoint = get_in_tenant_or_404(WebhookEndpoint, pk=endpoint_id)
    services.endpoint_delete(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        endpoint=endpoint,
        request=request,
    )
    messages.success(request, _("The endpoint was deleted."))
    return redirect("console:webhooks")


@staff_required(PERM)
@post_only
def endpoint_rotate(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    endpoint = get_in_tenant_or_404(WebhookEndpoint, pk=endpoint_id)
    endpoint, secret = services.secret_rotate(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        endpoint=endpoint,
        request=request,
    )
    return _detail_page(request, endpoint, secret=secret)


@staff_required(PERM)
@post_only
def endpoint_test(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    endpoint = get_in_tenant_or_404(WebhookEndpoint, pk=endpoint_id)
    services.send_test(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        endpoint=endpoint,
        request=request,
    )
    messages.success(request, _("A test event is on its way: reload to see the answer."))
    return redirect("console:webhook_detail", endpoint_id=endpoint.pk)


@staff_required(PERM)
@post_only
def delivery_resend(request: HttpRequest, delivery_id: str) -> HttpResponse:
    delivery = get_in_tenant_or_404(
        WebhookDelivery.objects.select_related("event", "endpoint"), pk=delivery_id
    )
    services.delivery_resend(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        delivery=delivery,
        request=request,
    )
    messages.success(request, _("The event will be sent again in a moment."))
    return redirect("console:webhook_detail", endpoint_id=delivery.endpoint_id)
