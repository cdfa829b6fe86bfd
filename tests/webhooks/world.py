"""One webhook endpoint with one delivery in a workspace, for the page sweeps (role
matrix, phone widths): the URL keywords naming them."""

from __future__ import annotations

from django.utils import timezone

from prm.models import Tenant, User
from prm.tenancy import tenant_scope
from prm.webhooks.models import WebhookDelivery, WebhookEvent
from prm.webhooks.services import endpoint_create


def build(tenant: Tenant, owner: User) -> dict[str, str]:
    with tenant_scope(tenant):
        endpoint, _ = endpoint_create(
            tenant=tenant,
            actor=owner,
            url="https://hooks.example.com/prm",
            events=["lead.created", "reward.created"],
            description="CRM bridge",
        )
        event = WebhookEvent.objects.create(
            tenant=tenant,
            type="lead.created",
            data={"object": "lead", "id": "x", "status": "new"},
            batch=endpoint.pk,
            fanned_out_at=timezone.now(),
        )
        delivery = WebhookDelivery.objects.create(
            tenant=tenant,
            endpoint=endpoint,
            event=event,
            status=WebhookDelivery.Status.DELIVERED,
            attempts=1,
            last_status_code=200,
            last_response_ms=42,
            last_attempt_at=timezone.now(),
            delivered_at=timezone.now(),
        )
    return {"endpoint_id": str(endpoint.pk), "delivery_id": str(delivery.pk)}
