"""Salesforce REST over our Transport: bearer auth with one refresh on
``INVALID_SESSION_ID``, error mapping, SOQL paging, the daily API allowance, and the
OAuth web-server flow for the console (``authorize_url`` / ``exchange_code``).

Salesforce has no per-second rate limit. What runs out is the org's rolling 24-hour
allowance, shared with every other integration of the customer; each answer reports it
in ``Sforce-Limit-Info: api-usage=used/max``. We keep the last reading and stop on our
own (``CrmRateLimited``) before eating into the ``api_reserve`` fraction, so a PRM sync
never starves the customer's other tools. The Throttle (25 requests/s, burst 25) is only
politeness: it keeps a big sync from hogging the org's concurrent-request slots.
"""

from __future__ import annotations

import re
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

DEFAULT_AUTH_URL = "https://login.salesforce.com"
DEFAULT_VERSION = "v62.0"
DEFAULT_RESERVE = 0.05
RATE, BURST = 25.0, 25  # politeness only: Salesforce itself counts per day, not per second
DAILY_RETRY_AFTER = 3600.0  # the allowance is a rolling 24 h window: look again in an hour
CONCURRENT_RETRY_AFTER = 2.0  # "too many long-running requests at once" clears quickly
SCOPE = "api refresh_token"
# Salesforce allows 16,384 bytes of URI plus headers (414 / 431 beyond). A longer query
# goes in the body of a Composite request instead, as Salesforce advises (KB 000386264);
# that is still one API call.
MAX_QUERY_URL = 12_000
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
# Whole-request 403 codes that mean the user or org cannot use the API at all.
AUTH_403 = {"API_DISABLED_FOR_ORG", "API_CURRENTLY_DISABLED", "INVALID_SESSION_ID"}


def error_of(response: httpx.Response) -> tuple[str, str]:
    """(errorCode, message) of a Salesforce error answer: a JSON array of objects."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:300]
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("errorCode") or ""), str(body[0].get("message") or "")
    if isinstance(body, dict):  # the OAuth endpoints answer {"error", "error_description"}
        return str(body.get("error") or ""), str(body.get("error_description") or "")
    return "", ""


def rate_limited(response: httpx.Response) -> float | None:
    """For Transport: wait out the short-lived concurrency refusal; the exhausted daily
    allowance is not worth a wait, the client raises CrmRateLimited for it."""
    if response.status_code != 403:
        return None
    code, message = error_of(response)
    if code == "REQUEST_LIMIT_EXCEEDED" and "TotalRequests" not in message:
        return CONCURRENT_RETRY_AFTER
    return None


def api_usage(response: httpx.Response) -> tuple[int, int] | None:
    match = _USAGE.search(response.headers.get("sforce-limit-info", ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


class SalesforceClient:
    def __init__(
        self,
        *,
        base_url: str,
        auth_url: str,
        credentials: Credentials,
        stats: ApiStats,
        throttle_key: str,
        api_version: str = DEFAULT_VERSION,
        reserve: float = DEFAULT_RESERVE,
    ) -> None:
        self.instance_url = base_url.rstrip("/")
        self.auth_url = (auth_url or DEFAULT_AUTH_URL).rstrip("/")
        self.credentials = credentials
        self.version = api_version if api_version.startswith("v") else f"v{api_version}"
        self.reserve = reserve
        self.allowance: tuple[int, int] | None = None  # (used, max) from the last answer
        timeout = float(getattr(settings, "PRM_CRM_HTTP_TIMEOUT", 15.0))
        self.transport = Transport(
            throttle=Throttle(throttle_key, rate=RATE, burst=BURST),
            stats=stats,
            rate_limited=rate_limited,
            timeout=timeout,
        )
        # The login host has its own limits; token calls do not spend the API allowance.
        self.token_transport = Transport(throttle=None, stats=stats, timeout=timeout)

    def close(self) -> None:
        self.transport.close()
        self.token_transport.close()

    @property
    def data_url(self) -> str:
        return f"{self.instance_url}/services/data/{self.version}"

    # -- requests ----------------------------------------------------------------------

    def _check_allowance(self) -> None:
        if self.allowance is None:
            return
        used, most = self.allowance
        if most and used >= most * (1.0 - self.reserve):
            raise CrmRateLimited(
                f"Salesforce API allowance nearly spent ({used}/{most}); the last "
                f"{self.reserve:.0%} is left to the org's other integrations",
                DAILY_RETRY_AFTER,
            )

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        idempotent: bool | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """One API call (``path`` below ``/services/data/vNN.N`` or a full ``/services``
        path such as a ``nextRecordsUrl``); the parsed JSON answer, None for 204."""
        if not self.instance_url.startswith(("http://", "https://")):
            raise CrmAuthError("Salesforce connection has no instance URL; authorize it first")
        if path_or_url.startswith("/services/"):
            url = f"{self.instance_url}{path_or_url}"
        else:
            url = f"{self.data_url}/{path_or_url.lstrip('/')}"
        refreshed = False
        while True:
            self._check_allowance()
            token = self.credentials.get("access_token")
            if not token:
                self.refresh("")
                refreshed = True
                token = self.credentials.get("access_token")
            sent = {"Authorization": f"Bearer {token}", **(headers or {})}
            response = self.transport.request(
                method, url, idempotent=idempotent, headers=sent, **kwargs
            )
            self.allowance = api_usage(response) or self.allowance
            # A 401 means nothing was executed: resending even a create is safe.
            if response.status_code == 401 and not refreshed:
                self.refresh(str(token))
                refreshed = True
                continue
            return self._answer(response, method, path_or_url)

    def _answer(self, response: httpx.Response, method: str, path: str) -> Any:
        status = response.status_code
        if status == 204:
            return None
        if status < 300:
            try:
                return response.json(parse_float=Decimal)
            except ValueError as exc:
                raise CrmRetryable(f"{method} {path}: answer is not JSON") from exc
        code, text = error_of(response)
        message = f"{method} {path.split('?')[0][:80]}: {code} {text}".strip()[:500]
        if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
            raise CrmRateLimited(message, DAILY_RETRY_AFTER)
        if status == 401 or (status == 403 and code in AUTH_403):
            raise CrmAuthError(message)
        if status >= 500:
            raise CrmRetryable(message)
        raise CrmValidationError(message)

    def refresh(self, used_token: str | None = None) -> None:
        """A new access token from the refresh token (Salesforce keeps the refresh token
        unless the connected app rotates it; a rotated one is stored at once). Once per
        expiry across workers: see ``Credentials.rotate``."""
        if used_token is None:
            used_token = str(self.credentials.get("access_token") or "")

        def exchange(values: dict[str, Any]) -> dict[str, Any]:
            refresh_token = values.get("refresh_token")
            if not refresh_token:
                raise CrmAuthError("Salesforce session expired and there is no refresh token")
            data = token_request(
                self.token_transport,
                self.auth_url,
                {
                    "grant_type": "refresh_token",
                    "refresh_token": refresh_token,
                    "client_id": values.get("client_id"),
                    "client_secret": values.get("client_secret"),
                },
            )
            changes = {
                "access_token": data["access_token"],
                "refresh_token": data.get("refresh_token") or refresh_token,
            }
            instance = str(data.get("instance_url") or "").rstrip("/")
            if instance:
                changes["instance_url"] = instance
            return changes

        self.credentials.rotate(used_token, exchange)
        instance = str(self.credentials.get("instance_url") or "").rstrip("/")
        if instance:
            self.instance_url = instance

    # -- reads -------------------------------------------------------------------------

    def query(self, soql: str, *, all_rows: bool = False) -> list[dict[str, Any]]:
        """Every row of a SOQL query, following ``nextRecordsUrl`` to the end."""
        rows: list[dict[str, Any]] = []
        for page in self.query_pages(soql, all_rows=all_rows):
            rows += page
        return rows

    def query_pages(self, soql: str, *, all_rows: bool = False):  # type: ignore[no-untyped-def]
        resource = "queryAll" if all_rows else "query"
        if self.query_url_length(soql) <= MAX_QUERY_URL:
            data = self.request("GET", resource, params={"q": soql})
        else:
            data = self._composite_get(f"{resource}?{urlencode({'q': soql})}")
        while True:
            yield [r for r in (data or {}).get("records", []) if isinstance(r, dict)]
            following = (data or {}).get("nextRecordsUrl")
            if (data or {}).get("done", True) or not following:
                return
            data = self.request("GET", str(following))

    def _composite_get(self, path: str) -> Any:
        """One GET as the only subrequest of ``POST /composite`` (no URI limit there)."""
        url = f"/services/data/{self.version}/{path}"
        answer = self.request(
            "POST",
            "composite",
            json={
                "allOrNone": False,
                "compositeRequest": [{"method": "GET", "url": url, "referenceId": "q"}],
            },
            idempotent=True,  # a read, whatever the verb
        )
        items = (answer or {}).get("compositeResponse") or []
        if not items or not isinstance(items[0], dict):
            raise CrmRetryable("composite: empty answer")
        status = int(items[0].get("httpStatusCode") or 500)
        body = items[0].get("body")
        if status < 300:
            return body
        code, text = "", ""
        if isinstance(body, list) and body and isinstance(body[0], dict):
            code, text = str(body[0].get("errorCode") or ""), str(body[0].get("message") or "")
        message = f"composite GET {path.split('?')[0]}: {code} {text}".strip()[:500]
        if code == "REQUEST_LIMIT_EXCEEDED":
            raise CrmRateLimited(message, DAILY_RETRY_AFTER)
        if status == 401:
            raise CrmAuthError(message)
        if status >= 500:
            raise CrmRetryable(message)
        raise CrmValidationError(message)

    def query_url_length(self, soql: str) -> int:
        """Length of the GET request line a query needs (Salesforce refuses very long
        URIs, so bulk look-ups are split to stay under it)."""
        return len(f"{self.data_url}/query?{urlencode({'q': soql})}")


def token_request(transport: Transport, auth_url: str, form: dict[str, Any]) -> dict[str, Any]:
    """POST {login host}/services/oauth2/token, form-encoded."""
    response = transport.request(
        "POST", f"{auth_url.rstrip('/')}/services/oauth2/token", data=form, idempotent=True
    )
    return token_answer(
        response,
        crm="Salesforce",
        endpoint="oauth2/token",
        refused="Salesforce refused the token request",
        error_of=error_of,
    )


def authorize_url(
    *, auth_url: str, base_url: str, client_id: str, redirect_uri: str, state: str
) -> str:
    """The login host's consent page (web-server flow), asking for a refresh token."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
            "state": state,
        }
    )
    return f"{(auth_url or DEFAULT_AUTH_URL).rstrip('/')}/services/oauth2/authorize?{query}"


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
    """Trade the code for tokens: (instance_url, credentials to store)."""
    data = code_grant(
        token_request,
        auth_url or DEFAULT_AUTH_URL,
        client_id=client_id,
        client_secret=client_secret,
        code=code,
        redirect_uri=redirect_uri,
    )
    if not data.get("refresh_token"):
        raise CrmAuthError(
            "Salesforce gave no refresh token: add the 'refresh_token' scope to the connected app"
        )
    credentials = {
        "client_id": client_id,
        "client_secret": client_secret,
        "access_token": data["access_token"],
        "refresh_token": data["refresh_token"],
    }
    return str(data.get("instance_url") or base_url).rstrip("/"), credentials
