"""The HTTP client every connector uses: one keep-alive connection pool per connector,
the shared throttle before each request, the SSRF guard, and counting for monitoring.

Network failures (timeouts, refused or dropped connections) become ``CrmRetryable``.
Idempotent requests (GET, and writes the connector marks ``idempotent=True``) are
retried here with exponential backoff (1, 2, 4, 8 s ... ``PRM_CRM_BACKOFF_BASE`` scales
it, tests shrink it); a create is never blindly re-sent, because the CRM may have done
it before the connection dropped: the engine re-queues it and the connector matches
before creating again. Rate-limit answers are recognised by the connector
(``rate_limited``) and waited out here, up to ``PRM_CRM_MAX_RATE_WAIT`` seconds each;
the wait goes through the shared throttle (``Throttle.penalize``) so that every worker of
the connection slows down, not only the one that was refused. Every request is counted
per minute for the status page (``Throttle.count``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from django.conf import settings

from integrations.crm.base import (
    ApiStats,
    CrmAuthError,
    CrmBlockedAddress,
    CrmRateLimited,
    CrmRetryable,
)
from integrations.crm.throttle import Throttle
from prm import http
from prm.http import BlockedAddress, UnresolvableHost

NETWORK_ERRORS = (httpx.TimeoutException, httpx.TransportError)


def backoff_delays(attempts: int) -> list[float]:
    base = settings.PRM_CRM_BACKOFF_BASE
    return [base * (2**n) for n in range(attempts)]


class Transport:
    def __init__(
        self,
        *,
        throttle: Throttle | None,
        stats: ApiStats,
        rate_limited: Callable[[httpx.Response], float | None] = lambda response: None,
        timeout: float = 15.0,
        retries: int = 4,
    ) -> None:
        self.throttle = throttle
        self.stats = stats
        self.rate_limited = rate_limited
        self.retries = retries
        # prm.http's client checks and pins the address of every new connection.
        self.client = http.client(timeout=httpx.Timeout(timeout, connect=5.0))

    def close(self) -> None:
        self.client.close()

    def request(
        self, method: str, url: str, *, idempotent: bool | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send one request; returns any HTTP answer that is not a rate limit.
        Raises CrmRetryable on network failure, CrmRateLimited when waits ran out,
        CrmBlockedAddress when the host resolves to an address we may not call."""
        if idempotent is None:
            idempotent = method.upper() in ("GET", "HEAD", "OPTIONS", "PUT", "DELETE")
        delays = backoff_delays(self.retries) if idempotent else []
        rate_waited = 0.0
        # Encoded before the throttle's slot, so the send follows the slot at once.
        request = self.client.build_request(method, url, **kwargs)
        while True:
            if self.throttle is not None:
                self.stats.throttled_seconds += self.throttle.wait()
            self.stats.calls += 1
            try:
                try:
                    response = self.client.send(request)
                finally:
                    if self.throttle is not None:
                        self.throttle.answered()  # a sliding window counts from here
            except BlockedAddress as exc:
                self.stats.errors += 1
                self.stats.last_error = str(exc)[:300]
                raise CrmBlockedAddress(str(exc)) from exc
            except UnresolvableHost as exc:
                # Not retried here: a name that does not resolve now rarely does a
                # second later; the engine's backoff (or the person) tries again.
                self.stats.errors += 1
                self.stats.last_error = str(exc)[:300]
                raise CrmRetryable(str(exc)) from exc
            except NETWORK_ERRORS as exc:
                self.stats.errors += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"[:300]
                if delays:
                    time.sleep(delays.pop(0))
                    continue
                raise CrmRetryable(self.stats.last_error) from exc
            if response.status_code >= 400:
                self.stats.errors += 1
                self.stats.last_error = f"HTTP {response.status_code} {method} {url}"[:300]
            retry_after = self.rate_limited(response)
            if self.throttle is not None:
                self.throttle.count(refused=retry_after is not None)
            if retry_after is not None:
                self.stats.rate_refusals += 1
                wait = min(max(retry_after, 0.05), settings.PRM_CRM_MAX_RATE_WAIT)
                if self.throttle is not None:
                    # The CRM is full (another integration, or our own burst): every
                    # worker of this connection slows to the sustained rate, and the
                    # next slot comes after the CRM's wait.
                    self.throttle.penalize(wait)
                if rate_waited + wait > settings.PRM_CRM_MAX_RATE_WAIT:
                    raise CrmRateLimited(f"rate limited ({response.status_code})", retry_after)
                rate_waited += wait
                if self.throttle is None:
                    self.stats.throttled_seconds += wait
                    time.sleep(wait)
                continue
            if response.status_code >= 500 and delays:
                time.sleep(delays.pop(0))
                continue
            return response


def token_answer(
    response: httpx.Response,
    *,
    crm: str,
    endpoint: str,
    refused: str,
    error_of: Callable[[httpx.Response], tuple[str, ...]],
) -> dict[str, Any]:
    """The body of an OAuth token endpoint's answer. A 5xx or a body that is not JSON is
    worth another try (CrmRetryable); a 4xx ("``refused``: code text", from the CRM's
    ``error_of``: its first and last parts) or an answer without an access token
    refuses the credentials (CrmAuthError: the connection needs its admin)."""
    if response.status_code >= 500:
        raise CrmRetryable(f"{endpoint}: HTTP {response.status_code}")
    if response.status_code >= 400:
        parts = error_of(response)
        raise CrmAuthError(f"{refused}: {parts[0]} {parts[-1]}".strip())
    try:
        data = response.json()
    except ValueError as exc:
        raise CrmRetryable(f"{endpoint}: answer is not JSON") from exc
    if not isinstance(data, dict) or not data.get("access_token"):
        raise CrmAuthError(f"{crm} token answer without an access token: {data!r}"[:300])
    return data


def code_grant(
    token_request: Callable[[Transport, str, dict[str, Any]], dict[str, Any]],
    host: str,
    *,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
) -> dict[str, Any]:
    """OAuth's authorization-code grant through a CRM's ``token_request`` at ``host``:
    the token answer (each CRM then takes what it stores from it)."""
    transport = Transport(throttle=None, stats=ApiStats())
    try:
        return token_request(
            transport,
            host,
            {
                "grant_type": "authorization_code",
                "code": code,
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uri": redirect_uri,
            },
        )
    finally:
        transport.close()
