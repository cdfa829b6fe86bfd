"""Bitrix24 REST over our Transport: the two kinds of auth, error mapping, ``batch``
and paging, plus the OAuth console flow (``authorize_url`` / ``exchange_code``).

Auth kinds:
- ``webhook``: ``https://portal/rest/<user>/<code>/<method>``. The URL is the credential;
  it never expires and is never "refreshed": a 401 means it was deleted.
- ``oauth``: ``<client_endpoint>/<method>`` with ``auth=<access token>`` in the body.
  Access tokens live an hour; Bitrix asks us not to refresh ahead of time, so we wait
  for ``expired_token`` (401), refresh once at ``{auth_url}/oauth/token/`` (the refresh
  token rotates: it is saved at once) and retry.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
from django.conf import settings

from integrations.crm.base import (
    ApiStats,
    Credentials,
    CrmAuthError,
    CrmRateLimited,
    CrmRetryable,
    CrmValidationError,
)
from integrations.crm.throttle import Throttle
from integrations.crm.transport import Transport, code_grant, token_answer

RATE = 2.0  # the portal's bucket drains 2 requests per second (non-Enterprise plans)
BURST = 50
# The per-method time budget (seconds of execution per 10 minutes; Bitrix does not publish
# the cloud figure, 480 is its documented example) and the share at which we pause.
OPERATING_BUDGET = 480.0
OPERATING_SLOW = 0.9
MAX_BATCH = 50  # commands per batch request
PAGE = 50  # rows per list page, fixed by Bitrix
DEFAULT_AUTH_URL = "https://oauth.bitrix.info"
# Rate answers and how long to wait before trying again (seconds). The bucket frees a
# slot every 0.5 s; a manual block or the per-method time budget last much longer, so
# those end up as CrmRateLimited once the transport's wait budget is spent.
RATE_ERRORS = {"QUERY_LIMIT_EXCEEDED": 1.0, "OVERLOAD_LIMIT": 60.0, "OPERATION_TIME_LIMIT": 60.0}
# Whole-request errors that mean "these credentials do not work (any more)".
AUTH_ERRORS = {
    "NO_AUTH_FOUND",
    "expired_token",
    "invalid_token",
    "METHOD_CONFIRM_WAITING",
    "insufficient_scope",
    "INVALID_CREDENTIALS",
    "ACCESS_DENIED",
    "user_access_error",
    "WRONG_AUTH_TYPE",
    "invalid_grant",
    "invalid_client",
    "PAYMENT_REQUIRED",
    "PORTAL_DELETED",
}
# Per-command errors inside a batch that are worth another try later.
RETRYABLE_ERRORS = {"INTERNAL_SERVER_ERROR", "ERROR_UNEXPECTED_ANSWER", *RATE_ERRORS}


def error_of(response: httpx.Response) -> tuple[str, str]:
    """(error code, description) of a Bitrix error answer; the code is often ""."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200]
    if isinstance(body, dict):
        return str(body.get("error") or ""), str(body.get("error_description") or "")
    return "", ""


def rate_limited(response: httpx.Response) -> float | None:
    """Seconds to wait when the portal refused for rate, else None (for Transport)."""
    if response.status_code not in (429, 503):
        return None
    return RATE_ERRORS.get(error_of(response)[0])


def command_error(error: Any) -> tuple[str, str]:
    """(error_kind, message) for one failed command of a batch."""
    if not isinstance(error, dict):
        return "retryable", str(error)[:500]
    code = str(error.get("error") or "")
    text = str(error.get("error_description") or code or "refused by Bitrix24")
    return ("retryable" if code in RETRYABLE_ERRORS else "validation"), text[:500]


# -------------------------------------------------------------- PHP query strings


def _encode_value(value: Any) -> str:
    text = "1" if value is True else "0" if value is False else str(value)
    # A reference to an earlier command's result stays readable: Bitrix substitutes it.
    safe = "$[]" if text.startswith("$result[") else ""
    return quote(text, safe=safe)


def php_query(params: dict[str, Any]) -> str:
    """PHP ``http_build_query``: ``fields[EMAIL][0][VALUE]=a%40b.test``. None and empty
    lists are left out, as PHP does, so callers must never rely on an empty filter."""
    pairs: list[tuple[str, Any]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}[{k}]", v)
        elif isinstance(value, list | tuple | set):
            for n, v in enumerate(value):
                walk(f"{prefix}[{n}]", v)
        elif value is not None:
            pairs.append((prefix, value))

    for key, value in params.items():
        walk(str(key), value)
    return "&".join(f"{quote(k, safe='[]')}={_encode_value(v)}" for k, v in pairs)


def _section(inner: dict[str, Any], name: str) -> dict[str, Any]:
    # PHP serialises an empty associative array as [], so an empty section is a list.
    value = inner.get(name)
    return value if isinstance(value, dict) else {}


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# -------------------------------------------------------------- the client


class BitrixClient:
    def __init__(
        self,
        *,
        base_url: str,
        auth_url: str,
        auth_kind: str,
        credentials: Credentials,
        stats: ApiStats,
        throttle_key: str,
    ) -> None:
        self.auth_kind = auth_kind
        self.credentials = credentials
        self.auth_url = (auth_url or DEFAULT_AUTH_URL).rstrip("/")
        timeout = float(getattr(settings, "PRM_CRM_HTTP_TIMEOUT", 15.0))
        self.transport = Transport(
            throttle=Throttle(throttle_key, rate=RATE, burst=BURST),
            stats=stats,
            rate_limited=rate_limited,
            timeout=timeout,
        )
        # oauth.bitrix.info is another host with its own limits: not the portal bucket.
        self.token_transport = Transport(throttle=None, stats=stats, timeout=timeout)
        if auth_kind == "webhook":
            self.root = str(credentials.get("webhook_url")).rstrip("/")
        else:
            root = base_url.rstrip("/")
            self.root = root if root.endswith("/rest") else f"{root}/rest"

    def close(self) -> None:
        self.transport.close()
        self.token_transport.close()

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, idempotent: bool = True
    ) -> dict[str, Any]:
        """One REST method; the whole answer (``result``, ``total``, ``next``, ``time``)."""
        if not self.root.startswith(("http://", "https://")):
            raise CrmAuthError("Bitrix24 connection has no API URL")
        refreshed = False
        while True:
            body = dict(params or {})
            token = str(self.credentials.get("access_token") or "")
            if self.auth_kind == "oauth":
                body["auth"] = token
            response = self.transport.request(
                "POST", f"{self.root}/{method}", json=body, idempotent=idempotent
            )
            # A 401 means the request was not executed: safe to resend even a create.
            if response.status_code == 401 and self.auth_kind == "oauth" and not refreshed:
                self.refresh(token)
                refreshed = True
                continue
            return self._answer(response, method)

    def _answer(self, response: httpx.Response, method: str) -> dict[str, Any]:
        status = response.status_code
        if 300 <= status < 400:
            # The portal moved to another domain: the stored URL must be fixed by a person.
            where = response.headers.get("location", "")
            raise CrmAuthError(f"Bitrix24 portal moved to {where}; update the connection")
        code, text = error_of(response) if status >= 400 else ("", "")
        if status < 300:
            try:
                data = response.json()
            except ValueError as exc:
                raise CrmRetryable(f"{method}: answer is not JSON") from exc
            if isinstance(data, dict) and "result" in data:
                self._heed_time(data.get("time"))
                return data
            code, text = error_of(response)
        message = f"{method}: {code + ' ' if code else ''}{text}".strip()
        if code in RATE_ERRORS:
            raise CrmRateLimited(message, RATE_ERRORS[code])
        if status in (401, 403) or code in AUTH_ERRORS:
            raise CrmAuthError(message)
        if status >= 500 or status == 429:
            raise CrmRetryable(message)
        raise CrmValidationError(message)

    def _heed_time(self, figures: Any) -> None:
        """Bitrix reports in every answer how much of the method's time budget is spent
        (``operating`` seconds of the last 10 minutes) and when it frees up
        (``operating_reset_at``): close to the budget we pause until then instead of
        running into 429 OPERATION_TIME_LIMIT."""
        if not isinstance(figures, dict) or self.transport.throttle is None:
            return
        try:
            operating = float(figures.get("operating") or 0)
            reset_at = float(figures.get("operating_reset_at") or 0)
        except (TypeError, ValueError):
            return
        if operating >= OPERATING_BUDGET * OPERATING_SLOW and reset_at:
            pause = min(max(reset_at - time.time(), 0.0), settings.PRM_CRM_MAX_RATE_WAIT)
            self.transport.throttle.penalize(pause)

    def refresh(self, used_token: str | None = None) -> None:
        """Trade the refresh token for a new pair. Bitrix spends the old refresh token
        on use, so this happens once per expiry across workers, under the connection's
        lock, and the new pair is committed before anything uses it (``rotate``)."""
        if self.auth_kind != "oauth" or not self.credentials.get("refresh_token"):
            raise CrmAuthError("Bitrix24 refused the credentials and there is no refresh token")
        if used_token is None:
            used_token = str(self.credentials.get("access_token") or "")

        def exchange(values: dict[str, Any]) -> dict[str, Any]:
            refresh_token = values.get("refresh_token")
            data = token_request(
                self.token_transport,
                self.auth_url,
                {
                    "grant_type": "refresh_token",
                    "client_id": values.get("client_id"),
                    "client_secret": values.get("client_secret"),
                    "refresh_token": refresh_token,
                },
                idempotent=False,  # a resent refresh would spend a spent token
            )
            changes = {
                "access_token": data["access_token"],
                "refresh_token": data.get("refresh_token") or refresh_token,
                "member_id": data.get("member_id") or values.get("member_id"),
            }
            with contextlib.suppress(TypeError, ValueError):
                changes["expires_at"] = time.time() + float(data.get("expires_in") or 3600)
            return changes

        self.credentials.rotate(used_token, exchange)

    def batch(
        self, commands: dict[str, tuple[str, dict[str, Any]]], *, idempotent: bool
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """Up to 50 commands in one request, ``halt=0``: (results, errors, next) by key.
        Keys must not be numeric (PHP would turn the sections into lists)."""
        assert len(commands) <= MAX_BATCH
        cmd = {key: f"{method}?{php_query(params)}" for key, (method, params) in commands.items()}
        data = self.call("batch", {"halt": 0, "cmd": cmd}, idempotent=idempotent)
        inner = data.get("result")
        inner = inner if isinstance(inner, dict) else {}
        return (
            _section(inner, "result"),
            _section(inner, "result_error"),
            _section(inner, "result_next"),
        )

    def read_batches(
        self, commands: dict[str, tuple[str, dict[str, Any]]]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Any number of read commands, 50 per request. A failed read is not a
        per-record matter: it raises (retryable) so nothing is created blindly."""
        results: dict[str, Any] = {}
        nexts: dict[str, Any] = {}
        keys = list(commands)
        for start in range(0, len(keys), MAX_BATCH):
            part = {k: commands[k] for k in keys[start : start + MAX_BATCH]}
            got, errors, more = self.batch(part, idempotent=True)
            if errors:
                key, error = next(iter(errors.items()))
                kind, text = command_error(error)
                raise (CrmRetryable if kind == "retryable" else CrmValidationError)(
                    f"{part[key][0]}: {text}"
                )
            results.update(got)
            nexts.update(more)
        return results, nexts

    def list_all(self, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every row of a small list (statuses, categories), following ``next``."""
        rows: list[dict[str, Any]] = []
        start = 0
        while True:
            data = self.call(method, {**params, "start": start})
            result = data.get("result")
            if isinstance(result, list):
                rows += [r for r in result if isinstance(r, dict)]
            if not data.get("next"):
                return rows
            start = int(data["next"])


def token_request(
    transport: Transport, auth_url: str, params: dict[str, Any], *, idempotent: bool = True
) -> dict[str, Any]:
    """GET {auth_url}/oauth/token/ (Bitrix wants GET with the secret in the query)."""
    response = transport.request(
        "GET", f"{auth_url.rstrip('/')}/oauth/token/", params=params, idempotent=idempotent
    )
    return token_answer(
        response,
        crm="Bitrix24",
        endpoint="oauth/token",
        refused="Bitrix24 token refused",
        error_of=error_of,
    )


def authorize_url(
    *, auth_url: str, base_url: str, client_id: str, redirect_uri: str, state: str
) -> str:
    """The portal's consent page (the app must be installed there)."""
    query = urlencode(
        {
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "state": state,
        }
    )
    return f"{origin(base_url)}/oauth/authorize/?{query}"


def exchange_code(
    *,
    auth_url: str,
    base_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    query: dict[str, str],
) -> tuple[str, dict[str, Any]]:
    """Trade the 30-second code for tokens: (client_endpoint, credentials to store)."""
    data = code_grant(
        token_request,
        auth_url or DEFAULT_AUTH_URL,
        client_id=client_id,
        client_secret=client_secret,
        code=code,
        redirect_uri=redirect_uri,
    )
    member_id = str(data.get("member_id") or "")
    if query.get("member_id") and member_id and query["member_id"] != member_id:
        raise CrmAuthError("Bitrix24 answered for another portal (member_id differs)")
    endpoint = str(data.get("client_endpoint") or "")
    if not endpoint:
        domain = query.get("domain")
        endpoint = f"https://{domain}/rest/" if domain else base_url
    credentials = {
        "client_id": client_id,
        "client_secret": client_secret,
        "access_token": data["access_token"],
        "refresh_token": data.get("refresh_token", ""),
        "member_id": member_id or query.get("member_id", ""),
    }
    with contextlib.suppress(TypeError, ValueError):
        credentials["expires_at"] = time.time() + float(data.get("expires_in") or 3600)
    return endpoint.rstrip("/"), credentials
