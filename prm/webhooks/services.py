"""Writes to webhook endpoints (console and API): audited, the subscription cache
dropped on every change, the secret returned only where it is made."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from prm import http
from prm.audit import audit_record
from prm.jobs import job_enqueue
from prm.models import Tenant, User
from prm.webhooks.events import EVENTS, TEST_EVENT, invalidate
from prm.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent, new_secret

OLD_SECRET_HONOURED = timedelta(hours=24)
DUE_JOB = "prm.webhooks.delivery.deliver_due"


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot receive webhooks (a message for a form), or None."""
    allow_plain = settings.DEBUG or settings.PRM_HTTP_ALLOW_PRIVATE
    if not url.lower().startswith("https://") and not allow_plain:
        return _("Use an https:// address: payloads carry your partners' data.")
    return http.address_problem(url)


def clean_events(events: list[str]) -> list[str]:
    return [e for e in EVENTS if e in set(events)]


def _snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "events": list(endpoint.events),
        "enabled": endpoint.enabled,
        "description": endpoint.description,
    }


@transaction.atomic
def endpoint_create(
    *,
    tenant: Tenant,
    actor: User | None,
    url: str,
    events: list[str],
    description: str = "",
    request: HttpRequest | None = None,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (returned here only)."""
    secret = new_secret()
    endpoint = WebhookEndpoint(
        tenant=tenant,
        url=url.strip(),
        events=clean_events(events),
        description=description.strip()[:200],
        created_by=actor,
    )
    endpoint.set_secret(secret)
    endpoint.save()
    invalidate(tenant.pk)
    audit_record(
        tenant=tenant,
        actor=actor,
        action="webhook.create",
        obj=endpoint,
        after=_snapshot(endpoint),
        request=request,
    )
    return endpoint, secret


@transaction.atomic
def endpoint_update(
    *,
    tenant: Tenant,
    actor: User | None,
    endpoint: WebhookEndpoint,
    changes: dict[str, Any],
    request: HttpRequest | None = None,
) -> WebhookEndpoint:
    """Change the URL, events, description or enabled. Turned on again, the endpoint
    starts afresh (not failing) and its waiting deliveries are due now."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    before = _snapshot(endpoint)
    if "url" in changes:
        endpoint.url = changes["url"].strip()
    if "events" in changes:
        endpoint.events = clean_events(changes["events"])
    if "description" in changes:
        endpoint.description = (changes["description"] or "").strip()[:200]
    resumed = False
    if "enabled" in changes and bool(changes["enabled"]) != endpoint.enabled:
        endpoint.enabled = bool(changes["enabled"])
        if endpoint.enabled:
            endpoint.disabled_reason = WebhookEndpoint.Disabled.NO
            endpoint.failing_since = None
            resumed = True
        else:
            endpoint.disabled_reason = WebhookEndpoint.Disabled.BY_HAND
    endpoint.save()
    invalidate(tenant.pk)
    after = _snapshot(endpoint)
    if after != before:
        audit_record(
            tenant=tenant,
            actor=actor,
            action="webhook.update",
            obj=endpoint,
            before=before,
            after=after,
            request=request,
        )
    if resumed:
        waiting = WebhookDelivery.objects.filter(
            endpoint=endpoint, status__in=[WebhookDelivery.Status.PENDING]
        ).update(next_attempt_at=timezone.now())
        if waiting:
            job_enqueue(DUE_JOB, queue="webhooks", tenant=tenant)
    return endpoint


@transaction.atomic
def endpoint_delete(
    *,
    tenant: Tenant,
    actor: User | None,
    endpoint: WebhookEndpoint,
    request: HttpRequest | None = None,
) -> None:
    audit_record(
        tenant=tenant,
        actor=actor,
        action="webhook.delete",
        obj=endpoint,
        before=_snapshot(endpoint),
        request=request,
    )
    endpoint.delete()
    invalidate(tenant.pk)


@transaction.atomic
def secret_rotate(
    *,
    tenant: Tenant,
    actor: User | None,
    endpoint: WebhookEndpoint,
    request: HttpRequest | None = None,
) -> tuple[WebhookEndpoint, str]:
    """A new secret (returned here only); the old one still signs for 24 hours."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    secret = new_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_until = timezone.now() + OLD_SECRET_HONOURED
    endpoint.set_secret(secret)
    endpoint.save()
    audit_record(
        tenant=tenant,
        actor=actor,
        action="webhook.rotate_secret",
        obj=endpoint,
        after={"secret": f"{endpoint.secret_prefix}…"},
        request=request,
    )
    return endpoint, secret


@transaction.atomic
def send_test(
    *,
    tenant: Tenant,
    actor: User | None,
    endpoint: WebhookEndpoint,
    request: HttpRequest | None = None,
) -> WebhookDelivery:
    """A ``webhook.test`` event to this endpoint alone (even a turned-off one)."""
    now = timezone.now()
    event = WebhookEvent.objects.create(
        tenant=tenant,
        type=TEST_EVENT,
        data={"object": "test", "endpoint": str(endpoint.pk), "message": "Hello from PRM"},
        batch=uuid.uuid4(),
        endpoint=endpoint,
        fanned_out_at=now,
    )
    delivery = WebhookDelivery.objects.create(
        tenant=tenant, endpoint=endpoint, event=event, next_attempt_at=now
    )
    job_enqueue(DUE_JOB, queue="webhooks", tenant=tenant, delivery_ids=[str(delivery.pk)])
    audit_record(
        tenant=tenant,
        actor=actor,
        action="webhook.test",
        obj=endpoint,
        after={"event": event.public_id},
        request=request,
    )
    return delivery


@transaction.atomic
def delivery_resend(
    *,
    tenant: Tenant,
    actor: User | None,
    delivery: WebhookDelivery,
    request: HttpRequest | None = None,
) -> WebhookDelivery:
    """Send a delivery again now (delivered or not), with the same event id."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING, next_attempt_at=timezone.now()
    )
    job_enqueue(DUE_JOB, queue="webhooks", tenant=tenant, delivery_ids=[str(delivery.pk)])
    audit_record(
        tenant=tenant,
        actor=actor,
        action="webhook.resend",
        obj=delivery.endpoint,
        after={"event": delivery.event.public_id, "type": delivery.event.type},
        request=request,
    )
    delivery.refresh_from_db()
    return delivery
