"""JSON errors for every API failure (kept apart from prm.api: DRF imports its
settings, which name both modules)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every error is ``{"error": "...", "fields": {...}}`` with a 4xx status."""
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {}
        message = "; ".join(str(m) for m in exc.messages)
        body: dict[str, Any] = {"error": message, "fields": fields}
        if getattr(exc, "code", None):
            body["code"] = exc.code  # stable, for callers to branch on
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "not found")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "detail" in data:
        body = {"error": str(data["detail"])}
    elif isinstance(data, dict):
        body = {"error": "invalid input", "fields": data}
    else:
        body = {"error": "invalid input", "fields": {"non_field_errors": data}}
    response.data = body
    return response
