"""HubSpot API over our Transport: bearer auth (a private app's access token, or an OAuth
access token refreshed once per expiry with ``POST /oauth/v1/token``), error mapping, and
HubSpot's rate limits.

HubSpot counts per app and portal: a rolling 10-second window (100 requests for a
private app on Free/Starter, 190 on Professional/Enterprise, 110 for an OAuth app; the
answer headers ``X-HubSpot-RateLimit-Max`` / ``-Interval-Milliseconds`` tell which), a
daily allowance (``X-HubSpot-RateLimit-Daily`` / ``-Daily-Remaining``), and the search
endpoints a few requests per second. Refusals are 429 with a ``policyName``:
``TEN_SECONDLY_ROLLING`` and ``SECONDLY`` are waited out (through the shared throttle,
so every worker slows down); ``DAILY`` is not worth waiting for (``CrmRateLimited`` with
an hour). We keep the last daily reading and stop on our own before eating into the
``api_reserve`` fraction, as for Salesforce.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

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

DEFAULT_BASE_URL = "https://api.hubapi.com"
DEFAULT_AUTH_URL = "https://app.hubspot.com"
DEFAULT_RESERVE = 0.05
WINDOW = 10.0
WINDOW_LIMIT = 100  # the smallest 10-second allowance (private app, Free/Starter)
WINDOW_MARGIN = 0.9  # our own window and HubSpot's are not aligned to the millisecond
SEARCH_PER_SECOND = 4  # HubSpot allows 5 search requests/s per portal
DAILY_RETRY_AFTER = 3600.0
SCOPES = "crm.objects.contacts.read crm.objects.contacts.write crm.objects.deals.read "
SCOPES += "crm.objects.deals.write crm.schemas.deals.read oauth"
WAITED = {"TEN_SECONDLY_ROLLING": 1.0, "SECONDLY": 1.0}


def error_of(response: httpx.Response) -> tuple[str, str, str]:
    """(category or status, policyName, message) of a HubSpot error answer."""
    try:
        body = response.json()
    except ValueError:
        return "", "", response.text[:300]
    if not isinstance(body, dict):
        return "", "", str(body)[:300]
    category = str(body.get("category") or body.get("errorType") or "")
    if not category and body.get("status") not in (None, "error"):
        category = str(body.get("status"))  # the token endpoint: BAD_REFRESH_TOKEN, ...
    return category, str(body.get("policyName") or ""), str(body.get("message") or "")


def rate_limited(response: httpx.Response) -> float | None:
    """For Transport: the 10-second and per-second refusals pass quickly; the daily one
    does not (the client raises CrmRateLimited for it)."""
    if response.status_code != 429:
        return None
    _, policy, _ = error_of(response)
    if policy == "DAILY":
        return None
    # A share of the 10-second window (scaled like the window itself in tests).
    return WAITED.get(policy, 1.0) / settings.PRM_CRM_RATE_SCALE


class HubSpotClient:
    def __init__(
        self,
        *,
        base_url: str,
        auth_url: str,
        auth_kind: str,
        credentials: Credentials,
        stats: ApiStats,
        throttle_key: str,
        window_limit: int = WINDOW_LIMIT,
        reserve: float = DEFAULT_RESERVE,
    ) -> None:
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        # The token endpoint lives on the API host (api.hubapi.com/oauth/v1/token).
        self.token_url = (auth_url or self.base_url).rstrip("/")
        if self.token_url == DEFAULT_AUTH_URL:
            self.token_url = DEFAULT_BASE_URL
        self.auth_kind = auth_kind
        self.credentials = credentials
        self.reserve = reserve
        self.daily: tuple[int, int] | None = None  # (remaining, max) from the last answer
        timeout = float(getattr(settings, "PRM_CRM_HTTP_TIMEOUT", 15.0))
        burst = max(int(window_limit * WINDOW_MARGIN), 1)
        self.transport = Transport(
            throttle=Throttle(throttle_key, rate=window_limit / WINDOW, burst=burst, window=WINDOW),
            stats=stats,
            rate_limited=rate_limited,
            timeout=timeout,
        )
        # Search requests also take a slot of the 10-second window (same transport key),
        # and first one of the per-second search allowance.
        self.search_throttle = Throttle(
            f"{throttle_key}:search",
            rate=float(SEARCH_PER_SECOND),
            burst=SEARCH_PER_SECOND,
            window=1.0,
        )
        self.token_transport = Transport(throttle=None, stats=stats, timeout=timeout)

    def close(self) -> None:
        self.transport.close()
        self.token_transport.close()

    def _check_allowance(self) -> None:
        if self.daily is None:
            return
        remaining, most = self.daily
        if most and remaining <= most * self.reserve:
            raise CrmRateLimited(
                f"HubSpot daily API allowance nearly spent ({most - remaining}/{most}); the "
                f"last {self.reserve:.0%} is left to the portal's other integrations",
                DAILY_RETRY_AFTER,
            )

    def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool | None = None,
        search: bool = False,
        **kwargs: Any,
    ) -> tuple[int, Any]:
        """One API call; (status, parsed JSON or None). 207 (partly done) is returned
        like 200: batch answers carry their per-input errors."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        refreshed = False
        while True:
            self._check_allowance()
            token = self.credentials.get("access_token")
            if not token:
                if self.auth_kind != "oauth":
                    raise CrmAuthError("HubSpot connection has no access token")
                self.refresh("")
                refreshed = True
                token = self.credentials.get("access_token")
            if search:
                self.search_throttle.wait()
            try:
                response = self.transport.request(
                    method,
                    url,
                    idempotent=idempotent,
                    headers={"Authorization": f"Bearer {token}"},
                    **kwargs,
                )
            finally:
                # The search window counts from the answer; unanswered, each search
                # held its slot for the whole in-flight allowance (20 s), so a poll's
                # fifth search waited 20 s instead of under a second.
                if search:
                    self.search_throttle.answered()
            self._read_daily(response)
            # A 401 means nothing was done: resending even a create is safe.
            if response.status_code == 401 and self.auth_kind == "oauth" and not refreshed:
                self.refresh(str(token))
                refreshed = True
                continue
            return self._answer(response, method, path)

    def _read_daily(self, response: httpx.Response) -> None:
        try:
            remaining = int(response.headers.get("x-hubspot-ratelimit-daily-remaining", ""))
            most = int(response.headers.get("x-hubspot-ratelimit-daily", ""))
        except ValueError:
            return
        self.daily = (remaining, most)

    def _answer(self, response: httpx.Response, method: str, path: str) -> tuple[int, Any]:
        status = response.status_code
        if status == 204:
            return status, None
        if status < 300:
            try:
                return status, response.json(parse_float=Decimal)
            except ValueError as exc:
                raise CrmRetryable(f"{method} {path}: answer is not JSON") from exc
        category, policy, text = error_of(response)
        message = f"{method} {path.split('?')[0][:80]}: {status} {category} {text}".strip()[:500]
        if status == 429:
            retry = DAILY_RETRY_AFTER if policy == "DAILY" else WAITED.get(policy, 1.0)
            raise CrmRateLimited(message, retry)
        if status in (401, 403) and category in (
            "INVALID_AUTHENTICATION",
            "EXPIRED_AUTHENTICATION",
            "MISSING_SCOPES",
            "",
        ):
            raise CrmAuthError(message)
        if status >= 500:
            raise CrmRetryable(message)
        raise CrmValidationError(message)

    def refresh(self, used_token: str | None = None) -> None:
        """A new OAuth access token (HubSpot keeps the refresh token). Once per expiry
        across workers: see ``Credentials.rotate``."""
        if self.auth_kind != "oauth":
            raise CrmAuthError("HubSpot refused the private app's access token")
        if used_token is None:
            used_token = str(self.credentials.get("access_token") or "")

        def exchange(values: dict[str, Any]) -> dict[str, Any]:
            refresh_token = values.get("refresh_token")
            if not refresh_token:
                raise CrmAuthError("HubSpot access token expired and there is no refresh token")
            data = token_request(
                self.token_transport,
                self.token_url,
                {
                    "grant_type": "refresh_token",
                    "refresh_token": refresh_token,
                    "client_id": values.get("client_id"),
                    "client_secret": values.get("client_secret"),
                },
            )
            return {
                "access_token": data["access_token"],
                "refresh_token": data.get("refresh_token") or refresh_token,
            }

        self.credentials.rotate(used_token, exchange)


def token_request(transport: Transport, base_url: str, form: dict[str, Any]) -> dict[str, Any]:
    """POST {api host}/oauth/v1/token, form-encoded."""
    response = transport.request(
        "POST", f"{base_url.rstrip('/')}/oauth/v1/token", data=form, idempotent=True
    )
    return token_answer(
        response,
        crm="HubSpot",
        endpoint="oauth/v1/token",
        refused="HubSpot refused the token request",
        error_of=error_of,
    )


def authorize_url(
    *, auth_url: str, base_url: str, client_id: str, redirect_uri: str, state: str
) -> str:
    """HubSpot's install/consent page for an OAuth app."""
    query = urlencode(
        {"client_id": client_id, "redirect_uri": redirect_uri, "scope": SCOPES, "state": state}
    )
    host = (auth_url or DEFAULT_AUTH_URL).rstrip("/")
    return f"{host}/oauth/authorize?{query}"


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
    """Trade the code for tokens: (API base URL, credentials to store)."""
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    data = code_grant(
        token_request,
        base,
        client_id=client_id,
        client_secret=client_secret,
        code=code,
        redirect_uri=redirect_uri,
    )
    if not data.get("refresh_token"):
        raise CrmAuthError("HubSpot gave no refresh token")
    credentials = {
        "client_id": client_id,
        "client_secret": client_secret,
        "access_token": data["access_token"],
        "refresh_token": data["refresh_token"],
    }
    return base, credentials
