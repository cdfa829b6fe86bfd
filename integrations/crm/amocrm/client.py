"""amoCRM API v4 over our Transport: bearer auth (OAuth with rotating refresh tokens, or
a private integration's long-lived token), error mapping, paging, and the OAuth console
flow (``authorize_url`` / ``exchange_code``).

Why the choices below (facts from ``/work/shared/CRM_APIS.md`` §1):
- Every call goes to the account's own domain; the token endpoint lives there too.
- 401 means a bad, expired or revoked token. For OAuth we refresh once and retry; a
  long-lived token cannot be refreshed, so its 401 is final.
- The refresh token rotates on every refresh and the new pair is saved at once
  (``Credentials.update``): a refresh lost to a crash can be repeated with the old
  refresh token, which amo keeps valid until the new one is used.
- Lists answer 204 with no body when nothing matches; ``_links.next`` exists only
  when there is another page.
- 400 with ``validation-errors`` names the refused items by ``request_id``: the batch
  code re-sends the others (amo refuses the whole request).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from django.conf import settings

from integrations.crm.base import (
    ApiStats,
    Credentials,
    CrmAuthError,
    CrmRetryable,
    CrmValidationError,
)
from integrations.crm.throttle import Throttle
from integrations.crm.transport import Transport

RATE_WAIT_CAP = 1.0  # seconds: the longest we wait after a 429, whatever it says
WINDOW = 1.01  # seconds from an answer until its request no longer counts (amo: 1 s)
RATE = 7.0  # requests per second per account (K-limits); the CRM answers 429 beyond
PAGE = 250  # the largest page amo serves
DEFAULT_AUTH_URL = "https://www.amocrm.ru"
REFRESH_EARLY = 60  # seconds: refresh a token this close to its expiry before using it

Params = list[tuple[str, Any]] | dict[str, Any] | None


class AmoValidationError(CrmValidationError):
    """A 400 whose ``validation-errors`` say which items (by request_id) were refused."""

    def __init__(self, message: str, by_request: dict[str, str]) -> None:
        super().__init__(message)
        self.by_request = by_request


def problem(response: httpx.Response) -> dict[str, Any]:
    """The problem-JSON body of an error answer ({} when it is not JSON: amo's 429 and
    block pages may be plain text)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def rate_limited(response: httpx.Response) -> float | None:
    """Seconds to wait when amo refused for rate (429), else None (for Transport)."""
    if response.status_code != 429:
        return None
    body = problem(response)
    for raw in (body.get("retry_after"), response.headers.get("Retry-After")):
        try:
            # amo counts per second: its documented "retry_after": 300 is a penalty we
            # do not need to serve in full (the window is free again within a second).
            return min(max(float(raw), 0.1), RATE_WAIT_CAP)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
    return 1.0


def _describe(response: httpx.Response) -> str:
    body = problem(response)
    detail = body.get("hint") or body.get("detail") or body.get("title") or response.text[:200]
    return f"amoCRM {response.status_code}: {detail}"


def validation_messages(body: dict[str, Any]) -> dict[str, str]:
    """{request_id: "path: detail; ..."} of a ``validation-errors`` answer."""
    out: dict[str, str] = {}
    for item in body.get("validation-errors") or []:
        if not isinstance(item, dict):
            continue
        parts = [
            f"{e.get('path', '')}: {e.get('detail') or e.get('code', '')}".strip(": ")
            for e in item.get("errors") or []
            if isinstance(e, dict)
        ]
        out[str(item.get("request_id", ""))] = "; ".join(parts) or "refused"
    return out


def raise_for(response: httpx.Response) -> None:
    """Map an amo error answer to our errors (401 is handled by the caller first)."""
    status = response.status_code
    if status < 400:
        return
    if status in (401, 402, 403):
        # 402: the account's subscription ended; 403: no rights, or the IP is blocked
        # after repeated limit violations. Either way a person has to act.
        raise CrmAuthError(_describe(response))
    if status >= 500 or status in (408, 429):
        raise CrmRetryable(_describe(response))
    body = problem(response)
    by_request = validation_messages(body)
    if by_request:
        raise AmoValidationError(_describe(response), by_request)
    raise CrmValidationError(_describe(response))


def _json(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise CrmRetryable(f"amoCRM answered non-JSON ({response.status_code})") from exc


class AmoClient:
    """One account's API. ``auth_kind`` is "oauth" or "token" (long-lived)."""

    def __init__(
        self,
        *,
        base_url: str,
        auth_kind: str,
        credentials: Credentials,
        throttle_key: str,
        stats: ApiStats,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth_kind = auth_kind
        self.credentials = credentials
        self.transport = Transport(
            # amo counts 7 per one-second window: at most 7 requests count at once, each
            # from its send until WINDOW seconds after its answer (Throttle.wait).
            throttle=Throttle(f"amocrm:{throttle_key}", rate=RATE, burst=7, window=WINDOW),
            stats=stats,
            rate_limited=rate_limited,
            timeout=settings.PRM_CRM_HTTP_TIMEOUT,
        )

    def close(self) -> None:
        self.transport.close()

    # -- auth

    def _token(self) -> str:
        token = str(self.credentials.get("access_token") or "")
        if not token:
            raise CrmAuthError("amoCRM: no access token")
        return token

    def _expired(self) -> bool:
        expires_at = self.credentials.get("expires_at", 0)
        try:
            return bool(expires_at) and float(expires_at) - REFRESH_EARLY <= time.time()
        except (TypeError, ValueError):
            return False

    def refresh(self, used_token: str | None = None) -> None:
        """Trade the refresh token for a new pair, once per expiry across workers (under
        the connection's lock, the new pair committed before use: ``rotate``)."""
        if self.auth_kind != "oauth":
            raise CrmAuthError("amoCRM refused the long-lived token (revoked or expired)")
        if used_token is None:
            used_token = str(self.credentials.get("access_token") or "")

        def exchange(values: dict[str, Any]) -> dict[str, Any]:
            refresh_token = values.get("refresh_token")
            if not refresh_token:
                raise CrmAuthError("amoCRM: the access token expired and there is no refresh token")
            body = {
                "client_id": values.get("client_id"),
                "client_secret": values.get("client_secret"),
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "redirect_uri": values.get("redirect_uri"),
            }
            # Not idempotent: each refresh rotates the token. A dropped answer is still
            # recoverable: the old refresh token stays valid until the new one is used.
            response = self.transport.request(
                "POST", f"{self.base_url}/oauth2/access_token", json=body, idempotent=False
            )
            if response.status_code >= 500:
                raise CrmRetryable(_describe(response))
            if response.status_code != 200:
                raise CrmAuthError(f"token refresh refused: {_describe(response)}")
            return token_values(_json(response))

        self.credentials.rotate(used_token, exchange)

    # -- requests

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Parsed JSON of a 2xx answer (None for 204); our errors otherwise."""
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        refreshed = False
        if self.auth_kind == "oauth" and self._expired():
            self.refresh()
            refreshed = True
        while True:
            token = self._token()
            headers = {"Authorization": f"Bearer {token}"}
            response = self.transport.request(
                method, url, params=params, json=json, headers=headers, idempotent=idempotent
            )
            if response.status_code == 401 and self.auth_kind == "oauth" and not refreshed:
                self.refresh(token)
                refreshed = True
                continue
            if response.status_code == 401:
                raise CrmAuthError(_describe(response))
            raise_for(response)
            return _json(response)

    def get(self, path: str, params: Params = None) -> Any:
        return self.request("GET", path, params=params)

    def pages(self, path: str, embedded: str, params: Params = None) -> Iterator[list[dict]]:
        """Every page of a list, ``limit=250``; stops at a 204 or a missing ``next``."""
        base = list(params.items()) if isinstance(params, dict) else list(params or [])
        base = [(k, v) for k, v in base if k not in ("page", "limit")]
        page = 1
        while True:
            body = self.get(path, [*base, ("page", page), ("limit", PAGE)])
            if not body:
                return
            items = (body.get("_embedded") or {}).get(embedded) or []
            if items:
                yield items
            next_link = ((body.get("_links") or {}).get("next") or {}).get("href")
            if not next_link or not items:
                return
            page = _page_of(next_link, page + 1)


def _page_of(href: str, default: int) -> int:
    for key, value in parse_qsl(urlsplit(href).query):
        if key == "page" and value.isdigit():
            return int(value)
    return default


def token_values(body: Any) -> dict[str, Any]:
    """Credential values from a token answer (expires_in -> absolute expires_at)."""
    if not isinstance(body, dict) or not body.get("access_token"):
        raise CrmAuthError("amoCRM token endpoint answered without an access token")
    now = float(body.get("server_time") or time.time())
    return {
        "access_token": body["access_token"],
        "refresh_token": body.get("refresh_token", ""),
        "expires_at": int(now + float(body.get("expires_in") or 86400)),
    }


# ---------------------------------------------------------------- OAuth console flow


def authorize_url(
    *, auth_url: str, base_url: str, client_id: str, redirect_uri: str, state: str
) -> str:
    """The consent page on amo's common host. amo sends the user back to the redirect
    URI registered with the integration (not one given here); ``mode=post_message``
    keeps it a plain redirect for a full-page flow."""
    host = (auth_url or DEFAULT_AUTH_URL).rstrip("/")
    query = urlencode({"client_id": client_id, "state": state, "mode": "post_message"})
    return f"{host}/oauth?{query}"


def account_url(referer: str, fallback: str) -> str:
    """``referer=acme.amocrm.ru`` of the redirect -> https://acme.amocrm.ru (http only
    for a local fake)."""
    referer = (referer or "").strip().rstrip("/")
    if not referer:
        return fallback.rstrip("/")
    if "://" in referer:
        return referer
    host = referer.split(":")[0]
    scheme = "http" if host in ("127.0.0.1", "localhost") else "https"
    return f"{scheme}://{referer}"


def exchange_code(
    *,
    auth_url: str,
    base_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    query: dict[str, str],
) -> tuple[str, dict]:
    """(account URL, credentials) for the code of a redirect. The code is traded at the
    account's own domain (``referer``), within its 20-minute life."""
    api = account_url(query.get("referer", ""), base_url)
    transport = Transport(throttle=None, stats=ApiStats(), timeout=settings.PRM_CRM_HTTP_TIMEOUT)
    try:
        response = transport.request(
            "POST",
            f"{api}/oauth2/access_token",
            json={
                "client_id": client_id,
                "client_secret": client_secret,
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
            },
            idempotent=False,
        )
    finally:
        transport.close()
    if response.status_code >= 500:
        raise CrmRetryable(_describe(response))
    if response.status_code != 200:
        raise CrmAuthError(f"amoCRM refused the code: {_describe(response)}")
    credentials = {
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uri": redirect_uri,
        **token_values(_json(response)),
    }
    return api, credentials
