"""JSON errors for every API failure (kept apart from prm.api: DRF imports its
settings, which name both modules).

One shape, ``{"error": {"code": "...", "message": "...", "fields": {...}}}``, with stable
codes (``ERROR_CODES``). Keys made before this shape existed (``ApiKey.legacy_errors``)
keep getting the old flat one, ``{"error": "...", "fields": {...}, "code"?}``, so
integrations written against it do not break; a new key gets the new shape.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

# The codes a client may branch on (README "API"). Service errors add their own
# (e.g. "no_exchange_rate", "taken", "closed"), listed in the README too.
ERROR_CODES = {
    "invalid": "the body or query failed validation (see fields)",
    "not_authenticated": "no Authorization header",
    "authentication_failed": "unknown, revoked or malformed API key",
    "insufficient_scope": "the key lacks the scope this request needs",
    "permission_denied": "not allowed",
    "not_found": "no such object in this workspace",
    "method_not_allowed": "the URL does not take this method",
    "not_acceptable": "the Accept header asks for something other than JSON",
    "unsupported_media_type": "the body is not JSON",
    "parse_error": "the body is not valid JSON",
    "throttled": "over the key's rate limit: wait Retry-After seconds",
    "idempotency_key_reused": "the Idempotency-Key was used with another request",
    "idempotency_key_in_use": "a request with this Idempotency-Key is still running",
}
_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.ParseError: "parse_error",
    exceptions.Throttled: "throttled",
}


class ErrorDetailOut(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, for your code to branch on.")
    message = serializers.CharField(help_text="For people; may change.")
    fields = serializers.DictField(
        child=serializers.JSONField(),
        help_text="Per input field, its messages (validation errors only).",
    )


class ErrorOut(serializers.Serializer):
    """Every error of the API (non-2xx)."""

    error = ErrorDetailOut()


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _legacy(context: dict[str, Any]) -> bool:
    request = context.get("request")
    key = getattr(getattr(request, "_request", request), "prm_api_key", None)
    return bool(getattr(key, "legacy_errors", False))


def _message(data: Any) -> str:
    if isinstance(data, list) and data:
        return _message(data[0])
    if isinstance(data, dict) and data:
        return _message(next(iter(data.values())))
    return str(data)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    legacy = _legacy(context)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {}
        message = "; ".join(str(m) for m in exc.messages)
        code = getattr(exc, "code", None)
        if legacy:
            body: dict[str, Any] = {"error": message, "fields": fields}
            if code:
                body["code"] = code  # stable, for callers to branch on
        else:
            body = error_body(code or "invalid", message, fields)
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "not found")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if legacy:
        if isinstance(data, dict) and "detail" in data:
            body = {"error": str(data["detail"])}
        elif isinstance(data, dict):
            body = {"error": "invalid input", "fields": data}
        else:
            body = {"error": "invalid input", "fields": {"non_field_errors": data}}
        response.data = body
        return response
    if isinstance(exc, exceptions.ValidationError):
        fields = data if isinstance(data, dict) else {"non_field_errors": data}
        body = error_body("invalid", _message(fields) or "invalid input", fields)
    else:
        code = _DRF_CODES.get(type(exc))
        if code is None and isinstance(exc, exceptions.APIException):
            detail_code = exc.get_codes()
            code = detail_code if isinstance(detail_code, str) else exc.default_code
        detail = data.get("detail") if isinstance(data, dict) else data
        body = error_body(str(code or "error"), str(detail))
    response.data = body
    return response
