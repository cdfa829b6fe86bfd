"""What the API's list and write views share: cursor pages, the list filters
(status, program, partner, date range) and ``Idempotency-Key`` on POSTs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from prm.api_errors import error_body
from prm.models import ApiKey, IdempotentRequest

IDEMPOTENCY_HOURS = 24


class CursorPage(CursorPagination):
    """``?cursor=…`` links in ``next``/``previous``; ``?limit=`` 1–200 (50)."""

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200
    ordering = ("-created_at", "-id")


class ListFiltersIn(serializers.Serializer):
    status = serializers.CharField(required=False, max_length=32)
    program = serializers.UUIDField(required=False)
    partner = serializers.UUIDField(required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


def list_parameters(statuses: list[str], *, partner: bool = True) -> list[OpenApiParameter]:
    """The filters of a list, for the schema."""
    params = [
        OpenApiParameter("status", OpenApiTypes.STR, enum=statuses),
        OpenApiParameter("program", OpenApiTypes.UUID),
        OpenApiParameter("created_after", OpenApiTypes.DATETIME, description="inclusive"),
        OpenApiParameter("created_before", OpenApiTypes.DATETIME, description="exclusive"),
    ]
    if partner:
        params.insert(2, OpenApiParameter("partner", OpenApiTypes.UUID))
    return params


class FilteredListMixin:
    """For a ``GenericAPIView``: ``filter_fields`` maps each filter to its lookup
    (``None``: not offered); ``statuses`` are the values ``status`` takes."""

    statuses: list[str] = []
    filter_fields: dict[str, str | None] = {
        "status": "status",
        "program": "program_id",
        "partner": "partner_id",
        "date": "created_at",
    }
    request: Request

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        given = {k: v for k, v in self.request.query_params.items() if k in ListFiltersIn().fields}
        filters = ListFiltersIn(data=given)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        lookups: dict[str, Any] = {}
        if "status" in data:
            if data["status"] not in self.statuses:
                raise serializers.ValidationError(
                    {"status": [f"one of: {', '.join(self.statuses)}"]}
                )
            lookups[self.filter_fields["status"] or "status"] = data["status"]
        for name in ("program", "partner"):
            field = self.filter_fields.get(name)
            if name in data and field:
                lookups[field] = data[name]
        date = self.filter_fields.get("date") or "created_at"
        if "created_after" in data:
            lookups[f"{date}__gte"] = data["created_after"]
        if "created_before" in data:
            lookups[f"{date}__lt"] = data["created_before"]
        return queryset.filter(**lookups)


def _fingerprint(request: Request) -> str:
    body = request.data if isinstance(request.data, dict | list) else {}
    raw = json.dumps([request.method, request.path, body], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


IDEMPOTENCY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    description=(
        "Optional, up to 255 characters. A retry with the same key and body gets the "
        "first answer again (for 24 hours); the same key with another body gets 422 "
        "idempotency_key_reused, and while the first is still running 409."
    ),
)


def idempotent(view: Callable[..., Response]) -> Callable[..., Response]:
    """Honour ``Idempotency-Key`` on a write (Stripe's rules): the answer (any status
    below 500) is stored with the request's fingerprint and replayed; a 5xx frees the
    key for a retry."""

    @wraps(view)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get("Idempotency-Key", "").strip()
        api_key = request.auth
        if not key or not isinstance(api_key, ApiKey):
            return view(self, request, *args, **kwargs)
        if len(key) > 255:
            raise exceptions.ValidationError({"Idempotency-Key": ["Use at most 255 characters."]})
        fingerprint = _fingerprint(request)
        tenant = request.tenant  # type: ignore[attr-defined]
        IdempotentRequest.objects.filter(
            api_key=api_key,
            key=key,
            created_at__lt=timezone.now() - timedelta(hours=IDEMPOTENCY_HOURS),
        ).delete()
        try:
            with transaction.atomic():
                record = IdempotentRequest.objects.create(
                    tenant=tenant, api_key=api_key, key=key, fingerprint=fingerprint
                )
        except IntegrityError:
            seen = IdempotentRequest.objects.filter(api_key=api_key, key=key).first()
            if seen is None:  # freed by a failed first attempt meanwhile
                return wrapper(self, request, *args, **kwargs)
            if seen.fingerprint != fingerprint:
                return Response(
                    error_body(
                        "idempotency_key_reused",
                        "This Idempotency-Key was used with another request.",
                    ),
                    status=status.HTTP_422_UNPROCESSABLE_ENTITY,
                )
            if seen.status_code is None:
                return Response(
                    error_body(
                        "idempotency_key_in_use",
                        "A request with this Idempotency-Key is still being processed.",
                    ),
                    status=status.HTTP_409_CONFLICT,
                )
            replay = Response(seen.body, status=seen.status_code)
            replay["Idempotent-Replayed"] = "true"
            return replay
        try:
            response = view(self, request, *args, **kwargs)
        except (exceptions.APIException, Http404, DjangoValidationError) as exc:
            response = self.handle_exception(exc)
        except Exception:
            IdempotentRequest.objects.filter(pk=record.pk).delete()
            raise
        if response.status_code >= 500:
            IdempotentRequest.objects.filter(pk=record.pk).delete()
        else:
            IdempotentRequest.objects.filter(pk=record.pk).update(
                status_code=response.status_code,
                body=json.loads(JSONRenderer().render(response.data) or b"null"),
            )
        return response

    return wrapper


def prune_idempotency_keys() -> int:
    """Periodic: forget Idempotency-Key answers older than a day (all tenants)."""
    cutoff = timezone.now() - timedelta(hours=IDEMPOTENCY_HOURS)
    # Across tenants on purpose: a housekeeping job with no tenant of its own.
    deleted, _ = IdempotentRequest.all_tenants_unscoped.filter(created_at__lt=cutoff).delete()
    return deleted
