"""API v1: webhook endpoints (register, list, read, change, delete, rotate the secret).

Scope group ``webhooks`` (``api_scope``; prm.api checks the key's scopes)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from prm.access import get_in_tenant_or_404
from prm.webhooks import services
from prm.webhooks.events import EVENTS
from prm.webhooks.models import WebhookDelivery, WebhookEndpoint


class WebhookEndpointOut(serializers.ModelSerializer):
    secret_prefix = serializers.CharField(read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "events",
            "enabled",
            "disabled_reason",
            "failing_since",
            "secret_prefix",
            "created_at",
        ]


class WebhookEndpointCreatedOut(WebhookEndpointOut):
    secret = serializers.CharField(help_text="The signing secret: shown in this answer only.")

    class Meta(WebhookEndpointOut.Meta):
        fields = [*WebhookEndpointOut.Meta.fields, "secret"]


class WebhookEndpointIn(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=list(EVENTS)), min_length=1, max_length=len(EVENTS)
    )
    enabled = serializers.BooleanField(required=False)

    def validate_url(self, value: str) -> str:
        problem = services.url_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value


class WebhookEndpointCursor(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"
    ordering = ("-created_at", "-id")


def _valid(data: Any, *, partial: bool = False) -> dict[str, Any]:
    serializer = WebhookEndpointIn(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _owner(request: Request) -> Any:
    return getattr(request.auth, "created_by", None)


class WebhookEndpointList(generics.ListAPIView):
    """The workspace's endpoints, newest first (cursor pagination); POST registers one."""

    api_scope = "webhooks"
    serializer_class = WebhookEndpointOut
    pagination_class = WebhookEndpointCursor

    def get_queryset(self) -> Any:
        return WebhookEndpoint.objects.all()

    @extend_schema(request=WebhookEndpointIn, responses={201: WebhookEndpointCreatedOut})
    def post(self, request: Request) -> Response:
        data = _valid(request.data)
        endpoint, secret = services.endpoint_create(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=_owner(request),
            url=data["url"],
            events=data["events"],
            description=data.get("description", ""),
        )
        if data.get("enabled") is False:
            endpoint = services.endpoint_update(
                tenant=request.tenant,  # type: ignore[attr-defined]
                actor=_owner(request),
                endpoint=endpoint,
                changes={"enabled": False},
            )
        body = {**WebhookEndpointOut(endpoint).data, "secret": secret}
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class WebhookEndpointDetail(APIView):
    api_scope = "webhooks"

    def _endpoint(self, endpoint_id: str) -> WebhookEndpoint:
        return get_in_tenant_or_404(WebhookEndpoint, pk=endpoint_id)

    @extend_schema(responses={200: WebhookEndpointOut})
    def get(self, request: Request, endpoint_id: str) -> Response:
        return Response(WebhookEndpointOut(self._endpoint(endpoint_id)).data)

    @extend_schema(request=WebhookEndpointIn(partial=True), responses={200: WebhookEndpointOut})
    def patch(self, request: Request, endpoint_id: str) -> Response:
        endpoint = self._endpoint(endpoint_id)
        changes = _valid(request.data, partial=True)
        endpoint = services.endpoint_update(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=_owner(request),
            endpoint=endpoint,
            changes=changes,
        )
        return Response(WebhookEndpointOut(endpoint).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, endpoint_id: str) -> Response:
        services.endpoint_delete(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=_owner(request),
            endpoint=self._endpoint(endpoint_id),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookSecretRotate(APIView):
    api_scope = "webhooks"

    @extend_schema(request=None, responses={200: WebhookEndpointCreatedOut})
    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint, secret = services.secret_rotate(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=_owner(request),
            endpoint=get_in_tenant_or_404(WebhookEndpoint, pk=endpoint_id),
        )
        body = {**WebhookEndpointOut(endpoint).data, "secret": secret}
        return Response(body, headers={"Cache-Control": "no-store"})


class WebhookDeliveryOut(serializers.ModelSerializer):
    event_id = serializers.CharField(source="event.public_id", read_only=True)
    event_type = serializers.CharField(source="event.type", read_only=True)
    response_code = serializers.IntegerField(source="last_status_code", allow_null=True)
    response_ms = serializers.IntegerField(source="last_response_ms", allow_null=True)
    error = serializers.CharField(source="last_error")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "response_code",
            "response_ms",
            "error",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
            "created_at",
        ]


class WebhookDeliveryCursor(WebhookEndpointCursor):
    page_size = 100
    max_page_size = 500


class WebhookDeliveryList(generics.ListAPIView):
    """An endpoint's delivery log, newest first (cursor pagination; ``?status=`` one of
    pending, sending, delivered, failed): what was sent, how it was answered, and when the
    next attempt is due. Read by the index the console's log uses."""

    api_scope = "webhooks"
    serializer_class = WebhookDeliveryOut
    pagination_class = WebhookDeliveryCursor

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "status", str, enum=[c for c, _label in WebhookDelivery.Status.choices]
            )
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        endpoint = get_in_tenant_or_404(WebhookEndpoint, pk=self.kwargs["endpoint_id"])
        rows = WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event")
        wanted = self.request.query_params.get("status", "")
        if wanted:
            if wanted not in WebhookDelivery.Status.values:
                raise serializers.ValidationError({"status": [f"unknown status {wanted!r}"]})
            rows = rows.filter(status=wanted)
        return rows


class WebhookDeliveryResend(APIView):
    """Send one delivery again now (as the console's "send again"); the receiver sees the
    same event id."""

    api_scope = "webhooks"

    @extend_schema(request=None, responses={202: WebhookDeliveryOut})
    def post(self, request: Request, delivery_id: str) -> Response:
        delivery = get_in_tenant_or_404(
            WebhookDelivery.objects.select_related("event", "endpoint"), pk=delivery_id
        )
        services.delivery_resend(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=_owner(request),
            delivery=delivery,
        )
        delivery.refresh_from_db()
        return Response(WebhookDeliveryOut(delivery).data, status=status.HTTP_202_ACCEPTED)
